import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { testServices } from "../../tests/helpers/services.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import { connect } from "../store/pg_info.ts";
import { PgLocker, type PgLockerOptions } from "./pg_locker.ts";

const services = testServices();

/** Two lockers, as two server instances sharing one database would have them. */
async function withInstances(
  options: PgLockerOptions,
  fn: (a: PgLocker, b: PgLocker, admin: ReturnType<typeof connect>) => Promise<void>,
): Promise<void> {
  const admin = connect(services!.pg, { max: 1 });
  const lockers: PgLocker[] = [];
  try {
    lockers.push(await PgLocker.open(services!.pg, options));
    lockers.push(await PgLocker.open(services!.pg, options));
    await fn(lockers[0]!, lockers[1]!, admin);
  } finally {
    for (const locker of lockers) await locker.close();
    await admin.end({ timeout: 5 });
  }
}

function pgTest(name: string, options: PgLockerOptions, fn: Parameters<typeof withInstances>[1]) {
  Deno.test({
    name: `PgLocker: ${name}`,
    ignore: services === undefined,
    fn: () => withInstances(options, fn),
  });
}

const id = () => crypto.randomUUID();

pgTest(
  "a request on another instance asks the holder to let go and gets the lock on its notice",
  { timeoutMs: 5000, pollMs: 4000 },
  async (a, b) => {
    const upload = id();
    const first = await a.acquire(upload);
    first.signal.addEventListener("abort", () => void first[Symbol.asyncDispose]());
    const started = performance.now();
    const second = await b.acquire(upload);
    const waited = performance.now() - started;
    assert.equal(first.signal.aborted, true, "the holder was asked to stop");
    assert.equal(second.signal.aborted, false);
    // Woken by NOTIFY resumable_released, not by its 4 s poll.
    assert.ok(waited < 2000, `took ${waited.toFixed(0)} ms`);
    await second[Symbol.asyncDispose]();
  },
);

pgTest(
  "a holder that never lets go makes the other instance's request fail with 423",
  { timeoutMs: 300, pollMs: 50 },
  async (a, b) => {
    const upload = id();
    const stuck = await a.acquire(upload);
    await assert.rejects(
      b.acquire(upload),
      (e) => e instanceof UploadError && e.status === 423,
    );
    assert.equal(stuck.signal.aborted, true);
    await stuck[Symbol.asyncDispose]();
    await (await b.acquire(upload))[Symbol.asyncDispose]();
  },
);

pgTest("tryAcquire on another instance never disturbs a holder", {}, async (a, b) => {
  const upload = id();
  const held = await a.acquire(upload);
  assert.equal(await b.tryAcquire(upload), undefined);
  assert.equal(await a.tryAcquire(upload), undefined, "nor on the same one");
  assert.equal(held.signal.aborted, false);
  const other = await b.tryAcquire(id());
  assert.ok(other);
  await other[Symbol.asyncDispose]();
  await held[Symbol.asyncDispose]();
  const free = await b.tryAcquire(upload);
  assert.ok(free, "free once released");
  await free[Symbol.asyncDispose]();
});

pgTest(
  "requests racing from two instances never hold one upload at once",
  { timeoutMs: 10_000, pollMs: 20 },
  async (a, b) => {
    const upload = id();
    let holders = 0;
    let most = 0;
    let done = 0;
    const work = async (locker: PgLocker) => {
      for (let i = 0; i < 5; i++) {
        let lock;
        try {
          lock = await locker.acquire(upload);
        } catch (error) {
          // Overtaken by a newer request on the same instance while waiting: that is allowed.
          if (error instanceof UploadError && error.status === 423) continue;
          throw error;
        }
        holders++;
        most = Math.max(most, holders);
        // Hold until asked to let go, or a few round trips.
        await Promise.race([
          new Promise((r) => lock.signal.addEventListener("abort", r, { once: true })),
          new Promise((r) => setTimeout(r, 15)),
        ]);
        holders--;
        done++;
        await lock[Symbol.asyncDispose]();
      }
    };
    await Promise.all([work(a), work(b), work(a), work(b)]);
    assert.equal(most, 1);
    assert.ok(done > 0);
  },
);

pgTest(
  "when the lock connection dies its holders are told to stop and the lock is free elsewhere",
  { timeoutMs: 3000, pollMs: 50 },
  async (a, b, admin) => {
    const upload = id();
    const held = await a.acquire(upload);
    const [row] = await admin`
      SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
        AND objid = (hashtextextended(${upload}, 0) & 4294967295)::oid`;
    assert.ok(row, "the advisory lock is visible in pg_locks");
    await admin`SELECT pg_terminate_backend(${row.pid})`;
    await waitFor(() => held.signal.aborted, { message: "the holder to be told to stop" });
    const taken = await b.acquire(upload);
    assert.equal(taken.signal.aborted, false);
    await taken[Symbol.asyncDispose]();
    await held[Symbol.asyncDispose]();
  },
);
