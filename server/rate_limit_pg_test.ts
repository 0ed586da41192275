import assert from "node:assert/strict";
import { testSchema, testServices } from "../tests/helpers/services.ts";
import { PgRateCounter } from "./rate_limit_pg.ts";

const services = testServices();

Deno.test({
  name: "PgRateCounter: two instances share each key's window, and concurrent takes all count",
  ignore: services === undefined,
  fn: async () => {
    const schema = await testSchema(services!);
    try {
      const a = new PgRateCounter(schema.sql);
      const b = new PgRateCounter(schema.sql);
      const limit = { count: 5, periodMs: 3_600_000 };
      const first = await a.take("owner:alice", limit);
      assert.equal(first.count, 1);
      assert.ok(Math.abs(first.now - Date.now()) < 60_000, "the database's clock, in ms");
      const takes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).take("owner:alice", limit)),
      );
      const counts = takes.map((w) => w.count).sort((x, y) => x - y);
      assert.deepEqual(counts, Array.from({ length: 20 }, (_, i) => i + 2), "no count lost");
      assert.ok(takes.every((w) => w.start === first.start), "one window");
      assert.equal((await b.take("owner:bob", limit)).count, 1, "keys are separate");
      // A window whose period has passed reopens at the next creation.
      const short = { count: 1, periodMs: 1 };
      const old = await a.take("addr:192.0.2.1", short);
      await schema.sql`UPDATE resumable_rate_limits SET window_start = window_start - 10`;
      const reopened = await b.take("addr:192.0.2.1", short);
      assert.equal(reopened.count, 1);
      assert.ok(reopened.start > old.start - 10);
    } finally {
      await schema.drop();
    }
  },
});
