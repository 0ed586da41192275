import assert from "node:assert/strict";
import { PIECE } from "../../lib/deno/digest_native.ts";
import { WRITE_BUFFER, WriteBuffer } from "./write_buffer.ts";

Deno.test("WriteBuffer gathers small chunks into whole buffers and passes big ones through", async () => {
  const writes: { length: number; last: boolean }[] = [];
  const out = new WriteBuffer((bytes, last) => {
    writes.push({ length: bytes.length, last });
    return Promise.resolve();
  }, 5);
  for (let i = 0; i < 3; i++) await out.push(new Uint8Array(WRITE_BUFFER / 2));
  assert.deepEqual(writes, [{ length: WRITE_BUFFER, last: false }]);
  assert.equal(out.pushed, 1.5 * WRITE_BUFFER);
  assert.equal(out.size, 5 + 1.5 * WRITE_BUFFER);
  await out.flush();
  await out.push(new Uint8Array(2 * WRITE_BUFFER));
  assert.deepEqual(writes.slice(1), [
    { length: WRITE_BUFFER / 2, last: true },
    { length: 2 * WRITE_BUFFER, last: false },
  ]);
  assert.equal(out.written, 3.5 * WRITE_BUFFER);
});

Deno.test("WriteBuffer given a source of storage hands each full buffer over for good and takes a new one", async () => {
  const taken: Uint8Array[] = [];
  const take = () => {
    const buffer = new Uint8Array(WRITE_BUFFER);
    taken.push(buffer);
    return buffer;
  };
  const writes: { bytes: Uint8Array; own: boolean }[] = [];
  const out = new WriteBuffer(
    (bytes, _last, own) => {
      writes.push({ bytes, own });
      return Promise.resolve();
    },
    0,
    take,
  );
  await out.push(new Uint8Array(2 * WRITE_BUFFER));
  assert.equal(taken.length, 0, "a body in big chunks needs no buffer at all");
  for (let i = 0; i < 3; i++) await out.push(new Uint8Array(WRITE_BUFFER / 2).fill(i + 1));
  await out.flush();
  assert.equal(taken.length, 2);
  assert.deepEqual(writes.map((w) => [w.bytes.length, w.own]), [
    [2 * WRITE_BUFFER, false],
    [WRITE_BUFFER, true],
    [WRITE_BUFFER / 2, true],
  ]);
  // Each owned write is the start of its own taken buffer, never written again.
  assert.equal(writes[1]!.bytes.buffer, taken[0]!.buffer);
  assert.equal(writes[2]!.bytes.buffer, taken[1]!.buffer);
  assert.deepEqual([writes[1]!.bytes[0], writes[1]!.bytes.at(-1), writes[2]!.bytes[0]], [1, 2, 3]);
});

Deno.test("WriteBuffer gathers in the storage it is given, so a series of buffers can share one", async () => {
  const storage = new Uint8Array(WRITE_BUFFER);
  const seen: ArrayBufferLike[] = [];
  for (let i = 0; i < 2; i++) {
    const out = new WriteBuffer(
      (bytes) => {
        seen.push(bytes.buffer);
        return Promise.resolve();
      },
      0,
      storage,
    );
    await out.push(new Uint8Array(10).fill(i + 1));
    await out.flush();
  }
  assert.deepEqual(seen, [storage.buffer, storage.buffer]);
  assert.deepEqual(storage.subarray(0, 10), new Uint8Array(10).fill(2));
});

Deno.test("a write buffer is one hashing piece, so a pooled piece can be written from and hashed whole", () => {
  assert.equal(WRITE_BUFFER, PIECE);
});
