import assert from "node:assert/strict";
import { openWriteback, WRITEBACK_STEP } from "./writeback.ts";

const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;

Deno.test("writeback is requested once per step written, and its descriptor is closed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/data`;
    using file = await Deno.open(path, { write: true, create: true });
    const before = openFds();
    const writeback = openWriteback(path, 0);
    assert.ok(writeback, "sync_file_range is available here (Linux, --allow-ffi)");
    assert.equal(openFds(), before + 1);
    const piece = new Uint8Array(1024 * 1024).fill(7);
    let end = 0;
    for (let i = 0; i < (3 * WRITEBACK_STEP) / piece.length; i++) {
      end += await file.write(piece);
      writeback.advance(end);
    }
    assert.equal(writeback.requests, 3);
    writeback.advance(end + WRITEBACK_STEP - 1); // less than a step gathered: nothing
    assert.equal(writeback.requests, 3);
    await writeback.close();
    await writeback.close(); // idempotent
    writeback.advance(end + 2 * WRITEBACK_STEP); // after close: ignored
    assert.equal(writeback.requests, 3);
    assert.equal(openFds(), before);
    await file.syncData();
    assert.equal((await Deno.stat(path)).size, 3 * WRITEBACK_STEP);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no writeback for a file that can't be opened (the fsync still does the work)", () => {
  assert.equal(openWriteback("/nonexistent/dir/file", 0), undefined);
});
