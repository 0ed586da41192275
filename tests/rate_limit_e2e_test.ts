/**
 * `--rate-limit` end to end: our client (a child process) waits out a 429's Retry-After and
 * succeeds, and two instances on one real PostgreSQL share the count.
 */
import assert from "node:assert/strict";
import { assertExit, completedEvent, eventsOf, runClient, tempDir } from "./helpers/client_cli.ts";
import { startServer } from "./helpers/server.ts";
import { testSchema, testServices } from "./helpers/services.ts";
import { randomBytes } from "./helpers/uploads.ts";

const services = testServices();

Deno.test("our client honours 429 Retry-After: with 1/2s its creations all succeed, waiting their turn", async () => {
  await using server = await startServer({ args: ["--rate-limit", "1/2s"] });
  await using dir = await tempDir();
  const file = `${dir.path}/in.bin`;
  await Deno.writeFile(file, randomBytes(100_000));
  // Two parts created at once, then the final: three creations within milliseconds, so the
  // second and third are refused until their window opens, whatever the machine's load.
  const args = ["--endpoint", server.url, "--state-dir", `${dir.path}/state`, "--json"];
  const started = performance.now();
  const run = await runClient(["upload", file, ...args, "--parallel", "2"]);
  const took = performance.now() - started;
  assertExit(run, 0);
  assert.equal(completedEvent(run).verified, "digest");
  const retries = eventsOf(run).filter((e) => e.type === "retry");
  assert.ok(retries.length >= 2, `refusals waited out: ${JSON.stringify(retries)}`);
  for (const retry of retries) {
    assert.equal(retry.status, 429, JSON.stringify(retry));
    assert.ok(
      Number(retry.delayMs) >= 1000,
      `waited as Retry-After said: ${JSON.stringify(retry)}`,
    );
  }
  assert.ok(took > 4000, `three creations at 1/2s take two windows: ${took.toFixed(0)} ms`);
});

Deno.test({
  name: "two instances on one PostgreSQL share the creation count",
  ignore: services === undefined,
  sanitizeResources: false,
  async fn() {
    const schema = await testSchema(services!);
    try {
      const args = ["--db", schema.url, "--rate-limit", "3/1h"];
      await using a = await startServer({ args });
      await using b = await startServer({ args });
      const create = async (url: string) => {
        const res = await fetch(url, {
          method: "POST",
          headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "10" },
        });
        return {
          status: res.status,
          retryAfter: res.headers.get("retry-after"),
          text: await res.text(),
        };
      };
      const statuses = [await create(a.url), await create(b.url), await create(a.url)];
      assert.deepEqual(statuses.map((s) => s.status), [201, 201, 201]);
      for (const server of [b, a]) {
        const refused = await create(server.url);
        assert.equal(refused.status, 429, refused.text);
        const seconds = Number(refused.retryAfter);
        assert.ok(seconds > 3000 && seconds <= 3600, `Retry-After ${refused.retryAfter}`);
        assert.match(refused.text, /at most 3 per 1h/);
      }
    } finally {
      await schema.drop();
    }
  },
});
