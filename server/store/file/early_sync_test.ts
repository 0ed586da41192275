import assert from "node:assert/strict";
import { earlySyncs, openEarlySync } from "./early_sync.ts";

const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("early syncs run one at a time, the next covering all written meanwhile", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/data`;
    using file = await Deno.open(path, { write: true, create: true });
    const before = openFds();
    const sync = openEarlySync(path, 0);
    assert.ok(sync, "fdatasync is available here (Linux, --allow-ffi)");
    assert.equal(openFds(), before + 1);
    const piece = new Uint8Array(1024 * 1024).fill(7);
    const start = earlySyncs.count;
    let end = 0;
    for (let i = 0; i < 4; i++) end += await file.write(piece);
    // The first starts a sync; the rest come while it runs: one more sync covers them all.
    for (let at = piece.length; at <= end; at += piece.length) sync.advance(at);
    sync.advance(end); // nothing new
    await until(() => earlySyncs.count - start === 2, "the second sync");
    assert.equal(await sync.close(), true);
    assert.equal(earlySyncs.count - start, 2);
    assert.equal(await sync.close(), true); // idempotent
    sync.advance(end + piece.length); // after close: ignored
    assert.equal(earlySyncs.count - start, 2);
    assert.equal(openFds(), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closing skips a sync still to come (the writer's fsync covers it)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/data`;
    await Deno.writeFile(path, new Uint8Array(3 * 4096));
    const sync = openEarlySync(path, 0)!;
    const start = earlySyncs.count;
    sync.advance(4096);
    sync.advance(2 * 4096); // the first is still running: this one waits, and close drops it
    assert.equal(await sync.close(), true);
    assert.equal(earlySyncs.count - start, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed early sync is reported by close", async () => {
  // /dev/null can't be synced (EINVAL): it stands in for a disk that failed.
  const sync = openEarlySync("/dev/null", 0)!;
  sync.advance(1);
  assert.equal(await sync.close(), false);
});

Deno.test("no early syncs for a file that can't be opened (the fsync still does the work)", () => {
  assert.equal(openEarlySync("/nonexistent/dir/file", 0), undefined);
});
