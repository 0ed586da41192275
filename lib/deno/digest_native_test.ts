import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  givePiece,
  nativeDigest,
  PIECE,
  queued,
  takePiece,
  threads,
  TOTAL_IN_FLIGHT,
} from "./digest_native.ts";
import { libcrypto } from "./libcrypto.ts";
import { randomBytes } from "../../tests/helpers/random_bytes.ts";
import { waitFor } from "../../tests/helpers/wait.ts";

const lib = libcrypto();

function expected(data: Uint8Array) {
  return {
    md5: createHash("md5").update(data).digest("base64"),
    sha256: createHash("sha256").update(data).digest("base64"),
  };
}

Deno.test("libcrypto digests on blocking threads equal node:crypto's, fed in odd pieces", async () => {
  assert.ok(lib, "libcrypto loads here");
  const data = new Uint8Array(9 * 1024 * 1024 + 5).map((_, i) => (i * 13 + (i >> 9)) & 0xff);
  const state = nativeDigest(lib);
  for (let at = 0; at < data.length; at += 1_500_001) {
    const piece = data.slice(at, at + 1_500_001);
    await state.update(piece);
    piece.fill(0); // the caller may reuse its buffer at once
  }
  assert.equal(state.length, data.length);
  assert.deepEqual(await state.digest(), expected(data));
  assert.deepEqual(await nativeDigest(lib).digest(), expected(new Uint8Array(0)));
});

Deno.test("concurrent uploads hash on separate threads: both MD5s and both SHA-256s at once", async () => {
  assert.ok(lib);
  const data = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i >> 3) & 0xff);
  threads.peak = 0;
  const a = nativeDigest(lib);
  const b = nativeDigest(lib);
  await Promise.all([a.update(data), b.update(data)]);
  const [da, db] = await Promise.all([a.digest(), b.digest()]);
  assert.deepEqual(da, expected(data));
  assert.deepEqual(db, da);
  // Each running call holds a thread of its own: four at once means neither upload waited for
  // the other's MD5, nor its own MD5 for its SHA-256.
  assert.equal(threads.peak, 4);
  assert.equal(threads.running, 0);
});

Deno.test("dropping a native digest releases a writer waiting on the bound", async () => {
  assert.ok(lib);
  const state = nativeDigest(lib);
  const writing = state.update(new Uint8Array(32 * 1024 * 1024));
  state.drop();
  await writing;
  await assert.rejects(state.digest(), /dropped/);
});

Deno.test("an adopted piece is hashed without a copy and comes back to the pool", async () => {
  assert.ok(lib);
  // Pieces an earlier test left hashing come back first, so the pool's order below is this test's.
  await waitFor(() => queued.bytes === 0, { message: "earlier pieces back in the pool" });
  const data = new Uint8Array(PIECE + 100).map((_, i) => (i * 7) & 0xff);
  const state = nativeDigest(lib);
  const first = takePiece();
  first.set(data.subarray(0, PIECE));
  await state.adopt!(first);
  const second = takePiece();
  assert.notEqual(second.buffer, first.buffer, "a piece in flight is not handed out again");
  second.set(data.subarray(PIECE));
  await state.adopt!(second.subarray(0, 100));
  assert.deepEqual(await state.digest(), expected(data));
  // Both hashed: both back in the pool, the later one on top.
  assert.equal(takePiece().buffer, second.buffer);
  assert.equal(takePiece().buffer, first.buffer);
  givePiece(first);
  givePiece(second);
});

Deno.test("ten concurrent states never queue more than the shared bound of pooled pieces", async () => {
  assert.ok(lib);
  // Every piece differs: one put back into the pool too early and refilled would change a digest.
  const data = randomBytes(6 * 1024 * 1024 + 7);
  queued.peak = 0;
  const states = Array.from({ length: 10 }, () => nativeDigest(lib));
  await Promise.all(states.map((s) => s.update(data)));
  const digests = await Promise.all(states.map((s) => s.digest()));
  for (const d of digests) assert.deepEqual(d, expected(data));
  // A piece is taken only within the bound, so the memory of the pieces (in flight plus the
  // spares kept for reuse) is the bound itself.
  assert.ok(queued.peak <= TOTAL_IN_FLIGHT, `${queued.peak} bytes queued at once`);
  assert.equal(queued.bytes, 0);
});

Deno.test("borrowed bytes, hashed in place between copied ones, give node:crypto's digests", async () => {
  assert.ok(lib);
  const data = new Uint8Array(6 * 1024 * 1024 + 3).map((_, i) => (i * 7 + (i >> 11)) & 0xff);
  const state = nativeDigest(lib);
  await state.update(data.subarray(0, 1_000_000));
  const lent = data.slice(1_000_000, 5_000_000);
  const borrowed = state.borrow!(lent);
  await state.update(data.subarray(5_000_000));
  await borrowed;
  lent.fill(0); // once the borrow resolves, the bytes are the caller's again
  assert.equal(state.length, data.length);
  assert.deepEqual(await state.digest(), expected(data));
});
