import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { MemoryLocker } from "./locker.ts";

Deno.test("a new acquire asks the holder to let go and gets the lock once released", async () => {
  const locker = new MemoryLocker(5000);
  const first = await locker.acquire("a");
  first.signal.addEventListener("abort", () => void first[Symbol.asyncDispose]());
  const second = await locker.acquire("a");
  assert.equal(first.signal.aborted, true);
  assert.equal(second.signal.aborted, false);
  await second[Symbol.asyncDispose]();
});

Deno.test("a holder that never lets go makes the newcomer fail with 423", async () => {
  const locker = new MemoryLocker(50);
  const stuck = await locker.acquire("a");
  await assert.rejects(
    locker.acquire("a"),
    (e) => e instanceof UploadError && e.status === 423,
  );
  await stuck[Symbol.asyncDispose]();
  await (await locker.acquire("a"))[Symbol.asyncDispose]();
});

Deno.test("tryAcquire never disturbs a holder", async () => {
  const locker = new MemoryLocker();
  const held = await locker.acquire("a");
  assert.equal(await locker.tryAcquire("a"), undefined);
  assert.equal(held.signal.aborted, false);
  const other = await locker.tryAcquire("b");
  assert.ok(other);
  await other[Symbol.asyncDispose]();
  await held[Symbol.asyncDispose]();
});

Deno.test("locks on different uploads are independent", async () => {
  const locker = new MemoryLocker();
  const a = await locker.acquire("a");
  const b = await locker.acquire("b");
  assert.equal(a.signal.aborted, false);
  await a[Symbol.asyncDispose]();
  await b[Symbol.asyncDispose]();
});
