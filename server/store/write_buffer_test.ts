import assert from "node:assert/strict";
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
