import assert from "node:assert/strict";
import { alignedBytes, DIRECT_ALIGN, isAligned } from "./aligned.ts";

Deno.test("aligned bytes start at an aligned address and hold what was asked", () => {
  for (const size of [DIRECT_ALIGN, 1024 * 1024, 3 * DIRECT_ALIGN + 5]) {
    const bytes = alignedBytes(size);
    assert.equal(bytes.length, size);
    assert.ok(isAligned(bytes), `${size} bytes`);
    assert.ok(!isAligned(bytes.subarray(1)));
    if (size > DIRECT_ALIGN) assert.ok(isAligned(bytes.subarray(DIRECT_ALIGN)));
  }
  assert.ok(!isAligned(new Uint8Array(0)));
});
