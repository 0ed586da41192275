import assert from "node:assert/strict";
import { DigestState } from "./digest.ts";
import { offThreadDigest, POOL_SIZE, workerDigest } from "./digest_pool.ts";

Deno.test("off-thread digests equal inline ones, with many states and bytes in flight", async () => {
  const data = new Uint8Array(40 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 10)) & 0xff);
  const inline = new DigestState();
  inline.update(data);
  const expected = inline.digest();
  const states = [offThreadDigest(), offThreadDigest(), offThreadDigest()];
  for (let at = 0; at < data.length; at += 1024 * 1024) {
    await Promise.all(states.map((s) => s.update(data.subarray(at, at + 1024 * 1024))));
  }
  assert.equal(states[0]!.length, data.length);
  for (const s of states) assert.deepEqual(await s.digest(), expected);
  const owned = offThreadDigest();
  await owned.update(new Uint8Array([1, 2, 3]));
  const small = new DigestState();
  small.update(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await owned.digest(), small.digest());
  const dropped = offThreadDigest();
  await dropped.update(data.subarray(0, 100));
  dropped.drop();
});

Deno.test("dropping a digest releases a writer waiting on the in-flight bound", async () => {
  const state = offThreadDigest();
  const big = new Uint8Array(32 * 1024 * 1024);
  const writing = state.update(big); // more than the bound: it waits for acks
  state.drop();
  await writing; // settles instead of hanging
  await state.update(big); // a no-op after drop
  await assert.rejects(state.digest(), /dropped/);
});

Deno.test("a digest being awaited when its state is dropped rejects instead of hanging", async () => {
  const state = offThreadDigest();
  await state.update(new Uint8Array(1000));
  const pending = state.digest();
  state.drop();
  await assert.rejects(pending, /dropped/);
});

Deno.test("the worker pool (the path without FFI) gives the same digests as the native one", async () => {
  const data = new Uint8Array(5 * 1024 * 1024 + 3).map((_, i) => (i * 7 + (i >> 12)) & 0xff);
  const native = offThreadDigest();
  const workers = workerDigest();
  for (let at = 0; at < data.length; at += 700_000) {
    await Promise.all([native, workers].map((s) => s.update(data.subarray(at, at + 700_000))));
  }
  assert.equal(native.inline, undefined);
  assert.deepEqual(await workers.digest(), await native.digest());
  assert.deepEqual(await workerDigest().digest(), await offThreadDigest().digest()); // no bytes
});

Deno.test("worker pool: a state's MD5 and SHA-256 on different workers, concurrent MD5s too", async () => {
  assert.ok(POOL_SIZE >= Math.max(2, navigator.hardwareConcurrency));
  const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
  const expected = new DigestState();
  expected.update(data);
  const a = workerDigest();
  const b = workerDigest();
  await Promise.all([a.update(data), b.update(data)]);
  assert.deepEqual(await a.digest(), expected.digest());
  const want = new DigestState();
  want.update(data);
  assert.deepEqual(await b.digest(), want.digest());
  // Each state was hashed by two workers (MD5 on one, SHA-256 on the other) ...
  assert.ok(a.hashedBy.md5 && a.hashedBy.sha256 && a.hashedBy.md5 !== a.hashedBy.sha256);
  assert.ok(b.hashedBy.md5 && b.hashedBy.sha256 && b.hashedBy.md5 !== b.hashedBy.sha256);
  // ... and two uploads at once don't share one MD5 thread.
  assert.notEqual(a.hashedBy.md5, b.hashedBy.md5);
});
