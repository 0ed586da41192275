import assert from "node:assert/strict";
import { blobSource, bytesSource, rangeSource } from "./source.ts";

Deno.test("byte, Blob and range sources read the same ranges", async () => {
  const data = new Uint8Array(1000).map((_, i) => i % 251);
  const sources = [bytesSource(data), blobSource(new Blob([data]))];
  for (const source of sources) {
    assert.equal(source.size, 1000);
    assert.deepEqual(await source.read(10, 20), data.subarray(10, 30));
    assert.deepEqual(await source.read(990, 50), data.subarray(990), "short at the end");
    const part = rangeSource(source, 100, 200);
    assert.equal(part.size, 100);
    assert.deepEqual(await part.read(90, 50), data.subarray(190, 200), "a range ends at its end");
  }
});
