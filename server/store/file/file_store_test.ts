import assert from "node:assert/strict";
import { DigestState } from "../../../lib/deno/digest.ts";
import { newUploadId } from "../../../lib/ids.ts";
import { cutAfter, storeConformance } from "../conformance.ts";
import { FileStore } from "./file_store.ts";
import { GroupSync, openGroupSync } from "./group_sync.ts";
import { earlySyncs } from "./early_sync.ts";
import { directWrites } from "./direct_write.ts";
import { limitedAppend } from "../limited_append.ts";
import { StoreError } from "../types.ts";

storeConformance("FileStore", {
  async make() {
    const dir = await Deno.makeTempDir({ prefix: "resumable-store-" });
    return {
      store: await FileStore.open(dir),
      cleanup: () => Deno.remove(dir, { recursive: true }),
    };
  },
});

storeConformance("FileStore with group commit", {
  async make() {
    const dir = await Deno.makeTempDir({ prefix: "resumable-store-" });
    const group = openGroupSync(dir);
    assert.ok(group, "the test task grants --allow-ffi: group commit must be available");
    const store = await FileStore.open(dir, undefined, group);
    assert.ok(store.groupCommit);
    return { store, cleanup: () => Deno.remove(dir, { recursive: true }) };
  },
});

Deno.test("FileStore with group commit: concurrent small creations share syncs", async () => {
  await withDir(async (dir) => {
    let syncs = 0;
    const inner = openGroupSync(dir)!;
    const group = new GroupSync(async () => {
      syncs++;
      await inner.sync();
    });
    const store = await FileStore.open(dir, undefined, group);
    const n = 32;
    await Promise.all(Array.from({ length: n }, async () => {
      const id = newUploadId();
      await store.create({ id, length: 8, metadata: "", createdAt: 0 });
      await limitedAppend(store, id, 0, body(8), { maxBytes: 8, signal: never });
      await store.finish(id);
      assert.equal((await store.get(id))?.offset, 8);
    }));
    // Per-file fsyncs would be ≥ 4 per upload (info, directory, data, digests).
    assert.ok(syncs < n * 2, `${syncs} syncs for ${n} uploads`);
  });
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "resumable-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const never = new AbortController().signal;
const body = (n: number) => new Blob([new Uint8Array(n).fill(7)]).stream();

Deno.test("FileStore lays data and info out in two fan-out levels of the id", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const id = newUploadId();
    await store.create({ id, length: 4, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, body(4), { maxBytes: 4, signal: never });
    const sub = `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}`;
    assert.equal((await Deno.stat(`${sub}/${id}`)).size, 4);
    const info = JSON.parse(await Deno.readTextFile(`${sub}/${id}.info`));
    assert.equal(info.id, id);
    assert.equal(info.length, 4);
  });
});

Deno.test("FileStore reads the offset from the data file, even after an external truncation", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const id = newUploadId();
    await store.create({ id, length: 100, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, body(80), { maxBytes: 100, signal: never });
    await Deno.truncate(`${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`, 30);
    assert.equal((await store.get(id))?.offset, 30);
    const reopened = await FileStore.open(dir);
    assert.equal((await reopened.get(id))?.offset, 30);
    const result = await limitedAppend(reopened, id, 30, body(70), { maxBytes: 70, signal: never });
    assert.equal(result.offset, 100);
  });
});

Deno.test("FileStore treats a vanished data file as zero bytes and recreates it", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const id = newUploadId();
    await store.create({ id, length: 10, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, body(5), { maxBytes: 10, signal: never });
    await Deno.remove(`${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`);
    assert.equal((await store.get(id))?.offset, 0);
    assert.equal(
      (await limitedAppend(store, id, 0, body(10), { maxBytes: 10, signal: never })).offset,
      10,
    );
  });
});

Deno.test("FileStore replaces info atomically and leaves no temp files", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    await store.declareLength(id, 99);
    const sub = `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}`;
    const names = [...Deno.readDirSync(sub)].map((e) => e.name).sort();
    assert.deepEqual(names, [id, `${id}.info`]);
    assert.equal((await store.get(id))?.length, 99);
  });
});

Deno.test("FileStore garbage collection removes old orphans and temp files only", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const kept = newUploadId();
    await store.create({ id: kept, metadata: "", createdAt: 0 });
    const orphan = newUploadId();
    const sub = `${dir}/${orphan.slice(0, 2)}/${orphan.slice(2, 4)}`;
    await Deno.mkdir(sub, { recursive: true });
    await Deno.writeTextFile(`${sub}/${orphan}`, "left by a crash mid-creation");
    await Deno.writeTextFile(`${sub}/${orphan}.info.1234abcd.tmp`, "{");
    assert.equal(await store.collectGarbage(Date.now() - 3_600_000), 0, "young files stay");
    assert.equal(await store.collectGarbage(Date.now() + 1000), 2);
    assert.ok(await store.get(kept));
    assert.deepEqual([...Deno.readDirSync(sub)], []);
  });
});

Deno.test("FileStore rehashes the committed prefix once when the running hash was lost", async () => {
  await withDir(async (dir) => {
    const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 7919) % 251);
    const id = newUploadId();
    const first = await FileStore.open(dir);
    await first.create({ id, length: data.length, metadata: "", createdAt: 0 });
    await limitedAppend(first, id, 0, new Blob([data.subarray(0, 2_000_000)]).stream(), {
      maxBytes: data.length,
      signal: never,
    });
    // A restart: a new store instance has no running hash for the upload.
    const second = await FileStore.open(dir);
    await limitedAppend(second, id, 2_000_000, new Blob([data.subarray(2_000_000)]).stream(), {
      maxBytes: data.length,
      signal: never,
    });
    await assertFinishesAs(second, id, data);
    // Rehashing read the prefix: the append still went on exactly where it stood.
    assert.deepEqual(await Deno.readFile(second.location(id).path!), data);
  });
});

Deno.test("FileStore drops digests made stale by an external truncation and recomputes them", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const id = newUploadId();
    await store.create({ id, length: 10, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, body(10), { maxBytes: 10, signal: never });
    const old = await store.finish(id);
    await Deno.truncate(`${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`, 4);
    assert.equal((await store.get(id))?.digests, undefined);
    const other = new Uint8Array(6).fill(9);
    await limitedAppend(store, id, 4, new Blob([other]).stream(), { maxBytes: 6, signal: never });
    const expected = new DigestState();
    expected.update(new Uint8Array(4).fill(7));
    expected.update(other);
    const fresh = await store.finish(id);
    assert.notDeepEqual(fresh, old);
    assert.deepEqual(fresh, expected.digest());
  });
});

Deno.test("FileStore fenced (--db): an append waits for another writer's file lock, then sees its bytes", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir, undefined, undefined, { fence: true });
    const id = newUploadId();
    await store.create({ id, length: 10, metadata: "", createdAt: 0 });
    // A stale writer on another instance, still writing after its database lock was lost.
    using holder = await Deno.open(`${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`, {
      write: true,
    });
    await holder.lock(true);
    const pending = limitedAppend(store, id, 0, body(3), { maxBytes: 10, signal: never });
    await holder.write(new Uint8Array(5));
    await holder.unlock();
    assert.equal((await pending).offsetMismatch, true);
    assert.equal((await store.get(id))?.offset, 5, "no byte interleaved");
  });
});

/** `finish` gives the MD5 and SHA-256 of exactly `data`. */
async function assertFinishesAs(store: FileStore, id: string, data: Uint8Array): Promise<void> {
  const expected = new DigestState();
  expected.update(data);
  assert.deepEqual(await store.finish(id), expected.digest());
}

/** `data` as a socket hands a body over: in pieces of 64 KiB. */
function socketPieces(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < data.length; at += 64 * 1024) {
        controller.enqueue(data.slice(at, at + 64 * 1024));
      }
      controller.close();
    },
  });
}

/**
 * Appends `data[from, to)` to upload `id` as a socket hands it over, checks the new offset, and
 * returns how much `count` grew meanwhile.
 */
async function appendCounting(
  store: FileStore,
  id: string,
  data: Uint8Array,
  from: number,
  to: number,
  count: () => number,
): Promise<number> {
  const before = count();
  const result = await limitedAppend(store, id, from, socketPieces(data.subarray(from, to)), {
    maxBytes: data.length,
    signal: never,
  });
  assert.equal(result.offset, to);
  return count() - before;
}

Deno.test("FileStore syncs what a body of several pieces has written while the rest arrives", async () => {
  await withDir(async (dir) => {
    const MiB = 1024 * 1024;
    const data = new Uint8Array(7 * MiB + 5).map((_, i) => (i * 31) & 0xff);
    const id = newUploadId();
    const store = await FileStore.open(dir);
    await store.create({ id, length: data.length, metadata: "", createdAt: 0 });
    const append = (from: number, to: number) =>
      appendCounting(store, id, data, from, to, () => earlySyncs.count);
    // Less than a piece, and one whole piece: the fsync alone (there is nothing to overlap).
    assert.equal(await append(0, 5), 0);
    assert.equal(await append(5, MiB + 5), 0);
    // Three whole pieces at an unaligned offset (through the page cache): what is written is
    // synced early as more arrives, in one sync or two (the disk's pace decides); the last piece
    // by the fsync.
    const cached = await append(MiB + 5, 4 * MiB + 5);
    assert.ok(cached >= 1 && cached <= 2, `${cached} early syncs`);
    // Aligned again, so written directly: synced early too.
    await append(4 * MiB + 5, 5 * MiB);
    const direct = await append(5 * MiB, data.length);
    assert.ok(direct >= 1 && direct <= 2, `${direct} early syncs`);
    await assertFinishesAs(store, id, data);
  });
});

Deno.test("FileStore writes a body's whole aligned blocks directly to the disk, the rest through the page cache", async () => {
  await withDir(async (dir) => {
    const MiB = 1024 * 1024;
    const data = new Uint8Array(5 * MiB + 4096 + 17).map((_, i) => (i * 7919) % 253);
    const id = newUploadId();
    const store = await FileStore.open(dir);
    await store.create({ id, length: data.length, metadata: "", createdAt: 0 });
    const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
    const openBefore = fds();
    const append = (from: number, to: number) =>
      appendCounting(store, id, data, from, to, () => directWrites.bytes);
    // From offset 0: three whole pieces go direct, the last 17 bytes through the cache.
    assert.equal(await append(0, 3 * MiB + 17), 3 * MiB);
    // From an unaligned offset: nothing direct.
    assert.equal(await append(3 * MiB + 17, 4 * MiB), 0);
    // From an aligned offset again, a last piece of 1 MiB + 4 KiB + 17: its whole blocks go direct.
    assert.equal(await append(4 * MiB, data.length), MiB + 4096);
    assert.equal(fds(), openBefore, "the second descriptors are closed");
    assert.deepEqual(await Deno.readFile(store.location(id).path!), data);
    await assertFinishesAs(store, id, data);
  });
});

Deno.test("FileStore: a body that fails while a piece is being written keeps exactly the bytes written", async () => {
  await withDir(async (dir) => {
    const MiB = 1024 * 1024;
    const data = new Uint8Array(3 * MiB + 500).map((_, i) => (i * 131) % 241);
    const id = newUploadId();
    const store = await FileStore.open(dir);
    await store.create({ id, length: data.length, metadata: "", createdAt: 0 });
    await assert.rejects(store.append(id, 0, cutAfter(data)), /connection reset/);
    // Whole pieces only (the partial one is dropped with the error), and nothing after the cut.
    const kept = (await Deno.stat(store.location(id).path!)).size;
    assert.equal(kept % MiB, 0);
    assert.ok(kept <= 3 * MiB);
    assert.equal((await store.get(id))?.offset, kept);
    const rest = await store.append(id, kept, new Blob([data.subarray(kept)]).stream());
    assert.deepEqual(rest, { kind: "appended", offset: data.length });
    await assertFinishesAs(store, id, data);
  });
});

Deno.test("FileStore: an assembly that meets a part cut short keeps exactly the whole pieces it wrote", async () => {
  await withDir(async (dir) => {
    const MiB = 1024 * 1024;
    const store = await FileStore.open(dir);
    const parts = [0, 1].map(() => ({ id: newUploadId(), length: 2 * MiB + 512 * 1024 }));
    const data = new Uint8Array(2 * parts[0]!.length).map((_, i) => (i * 17) % 239);
    for (const [i, part] of parts.entries()) {
      await store.create({ id: part.id, length: part.length, metadata: "", createdAt: 0 });
      const bytes = data.subarray(i * part.length, (i + 1) * part.length);
      await limitedAppend(store, part.id, 0, new Blob([bytes]).stream(), {
        maxBytes: part.length,
        signal: never,
      });
    }
    // The second part's data shrinks behind the store's back.
    await Deno.truncate(store.location(parts[1]!.id).path!, MiB);
    const final = newUploadId();
    await store.create({ id: final, length: data.length, metadata: "", createdAt: 0 });
    await assert.rejects(store.assemble(final, parts), /shorter/);
    const kept = (await Deno.stat(store.location(final).path!)).size;
    assert.equal(kept % MiB, 0);
    assert.ok(kept <= parts[0]!.length + MiB);
    assert.equal((await store.get(final))?.offset, kept);
    assert.deepEqual(await Deno.readFile(store.location(final).path!), data.subarray(0, kept));
  });
});

Deno.test("FileStore reports a damaged info file as a corrupt record naming both files", async () => {
  await withDir(async (dir) => {
    const store = await FileStore.open(dir);
    const id = newUploadId();
    await store.create({ id, length: 10, metadata: "", createdAt: 0 });
    const data = `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
    const info = `${data}.info`;
    for (const garbage of ['{"v":1,"id":', "\u0000\u0001garbage", "null", "[]", "{}"]) {
      await Deno.writeTextFile(info, garbage);
      const calls: [string, () => Promise<unknown>][] = [
        ["get", () => store.get(id)],
        ["finish", () => store.finish(id)],
        ["declareLength", () => store.declareLength(id, 10)],
        ["remove", () => store.remove(id, { state: "expired", at: 1 })],
      ];
      for (const [name, call] of calls) {
        await assert.rejects(call, (e) => {
          assert.ok(e instanceof StoreError, `${name}(${JSON.stringify(garbage)}): ${e}`);
          assert.equal(e.kind, "corrupt-record");
          assert.ok(e.message.includes(info) && e.message.includes(data), e.message);
          assert.match(e.message, /remove or fix it/);
          return true;
        });
      }
      assert.equal(await store.collectGarbage(Date.now() + 1000), 0, "a damaged record is kept");
    }
  });
});
