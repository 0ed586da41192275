import assert from "node:assert/strict";
import { alignedBytes, DIRECT_ALIGN } from "../../../lib/deno/aligned.ts";
import { directPart, openDirect } from "./direct_write.ts";

Deno.test("only whole blocks from an aligned buffer at an aligned offset can go direct", () => {
  const bytes = alignedBytes(3 * DIRECT_ALIGN + 100);
  assert.equal(directPart(bytes, 0), 3 * DIRECT_ALIGN);
  assert.equal(directPart(bytes, 5 * DIRECT_ALIGN), 3 * DIRECT_ALIGN);
  assert.equal(directPart(bytes, 100), 0, "unaligned offset");
  assert.equal(directPart(bytes.subarray(1), 0), 0, "unaligned address");
  assert.equal(directPart(bytes.subarray(0, DIRECT_ALIGN - 1), 0), 0, "less than a block");
});

Deno.test("a direct write lands where asked, beside writes through the page cache", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/data`;
    using file = await Deno.open(path, { write: true, create: true });
    await file.write(new Uint8Array(DIRECT_ALIGN).fill(1));
    const direct = openDirect(path);
    assert.ok(
      direct,
      "O_DIRECT is available here (Linux, --allow-ffi, a file system that takes it)",
    );
    const blocks = alignedBytes(2 * DIRECT_ALIGN).fill(2);
    assert.equal(await direct.write(blocks, DIRECT_ALIGN), true);
    // An unaligned buffer: the disk refuses it, and the caller writes it through the cache.
    assert.equal(await direct.write(alignedBytes(DIRECT_ALIGN + 1).subarray(1), 0), false);
    direct.close();
    direct.close(); // idempotent
    await file.syncData();
    const stored = await Deno.readFile(path);
    assert.equal(stored.length, 3 * DIRECT_ALIGN);
    assert.ok(stored.subarray(0, DIRECT_ALIGN).every((b) => b === 1));
    assert.ok(stored.subarray(DIRECT_ALIGN).every((b) => b === 2));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no direct writes to a file that can't be opened", () => {
  assert.equal(openDirect("/nonexistent/dir/file"), undefined);
});
