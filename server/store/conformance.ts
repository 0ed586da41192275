/**
 * The one test suite every UploadStore must pass. Each store's `*_test.ts` calls
 * `storeConformance` with a factory; store-specific tests live beside it.
 */
import assert from "node:assert/strict";
import { checksumOf, parseChecksum } from "../../lib/checksum.ts";
import { DigestState } from "../../lib/deno/digest.ts";
import { newUploadId } from "../../lib/ids.ts";
import { limitedAppend } from "./limited_append.ts";
import { StoreError, type StoreErrorKind, type UploadStore } from "./types.ts";

export interface StoreFactory {
  make(): Promise<{ store: UploadStore; cleanup(): Promise<void> }>;
}

const never = new AbortController().signal;

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Asserts that `call` rejects with a StoreError of `kind`. */
/** A new, empty partial upload (tus concatenation) in `store`; its id. */
async function newPart(store: UploadStore): Promise<string> {
  const id = newUploadId();
  await store.create({ id, length: 0, metadata: "", createdAt: 0, concat: { kind: "partial" } });
  return id;
}

async function rejectsWith(kind: StoreErrorKind, call: () => Promise<unknown>): Promise<void> {
  await assert.rejects(call, (e) => {
    assert.ok(e instanceof StoreError, `a StoreError, not ${e}`);
    assert.equal(e.kind, kind, e.message);
    return true;
  });
}

export function storeConformance(name: string, factory: StoreFactory): void {
  const test = (title: string, fn: (store: UploadStore) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const { store, cleanup } = await factory.make();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    });

  test("create makes an empty upload that get returns", async (store) => {
    const id = newUploadId();
    const created = await store.create({ id, length: 10, metadata: "a YQ==", createdAt: 1000 });
    assert.equal(created.offset, 0);
    const info = await store.get(id);
    assert.ok(info);
    assert.equal(info.id, id);
    assert.equal(info.length, 10);
    assert.equal(info.offset, 0);
    assert.equal(info.metadata, "a YQ==");
    assert.equal(info.createdAt, 1000);
    assert.equal(await store.get(newUploadId()), undefined);
  });

  test("append stores the bytes in order and read returns them", async (store) => {
    const id = newUploadId();
    await store.create({ id, length: 3000, metadata: "", createdAt: 0 });
    const data = bytes(3000);
    const first = await limitedAppend(store, id, 0, streamOf(data.subarray(0, 1000)), {
      maxBytes: 3000,
      signal: never,
    });
    assert.deepEqual(first, { offset: 1000, overflow: false, stopped: false });
    const second = await limitedAppend(
      store,
      id,
      1000,
      streamOf(data.subarray(1000, 1500), data.subarray(1500)),
      { maxBytes: 2000, signal: never },
    );
    assert.equal(second.offset, 3000);
    assert.equal((await store.get(id))?.offset, 3000);
    assert.deepEqual(await readAll(await store.read(id, 0, 3000)), data);
    assert.deepEqual(await readAll(await store.read(id, 10, 20)), data.subarray(10, 20));
  });

  test("append at the wrong offset reports the stored offset and writes nothing", async (store) => {
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    assert.deepEqual(await store.append(id, 0, streamOf(bytes(5))), {
      kind: "appended",
      offset: 5,
    });
    const outcome = await store.append(id, 3, streamOf(bytes(5)));
    // A fact, not a response: no status, no headers (the append path decides those).
    assert.deepEqual(outcome, { kind: "offset-mismatch", offset: 5 });
    assert.equal((await store.get(id))?.offset, 5);
  });

  test("append stores at most maxBytes and reports the overflow", async (store) => {
    const id = newUploadId();
    await store.create({ id, length: 100, metadata: "", createdAt: 0 });
    const result = await limitedAppend(store, id, 0, streamOf(bytes(60), bytes(60)), {
      maxBytes: 100,
      signal: never,
    });
    assert.equal(result.overflow, true);
    assert.equal(result.offset, 100);
    assert.equal((await store.get(id))?.offset, 100);
  });

  test("append stops when its signal aborts and keeps what arrived", async (store) => {
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    const stop = new AbortController();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        if (pulls <= 2) controller.enqueue(bytes(100, pulls));
        else stop.abort(); // then never enqueue again: a stalled client
      },
    });
    const result = await limitedAppend(store, id, 0, body, {
      maxBytes: 10_000,
      signal: stop.signal,
    });
    assert.equal(result.stopped, true);
    assert.equal(result.offset, 200);
    assert.equal((await store.get(id))?.offset, 200);
  });

  test("append keeps the bytes before a body error", async (store) => {
    // Small, and several MiB: whole pieces may still be being written when the body fails.
    for (const size of [300, 5 * 1024 * 1024 + 300]) {
      const id = newUploadId();
      // The length is declared, so that the S3 store may read back what is then complete.
      await store.create({ id, length: size, metadata: "", createdAt: 0 });
      const body = cutAfter(bytes(size));
      const result = await limitedAppend(store, id, 0, body, { maxBytes: 10 ** 8, signal: never });
      assert.ok(result.bodyError);
      assert.equal(result.offset, size);
      assert.deepEqual(await readAll(await store.read(id, 0, size)), bytes(size));
    }
  });

  test("finish records the MD5 and SHA-256 of the whole upload", async (store) => {
    const id = newUploadId();
    const data = bytes(5000, 7);
    await store.create({ id, length: 5000, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, streamOf(data.subarray(0, 1234)), {
      maxBytes: 5000,
      signal: never,
    });
    await limitedAppend(store, id, 1234, streamOf(data.subarray(1234)), {
      maxBytes: 3766,
      signal: never,
    });
    const expected = new DigestState();
    expected.update(data);
    const digests = expected.digest();
    assert.deepEqual(await store.finish(id), digests);
    assert.deepEqual((await store.get(id))?.digests, digests);
    assert.deepEqual(await store.finish(id), digests, "finish is idempotent");
  });

  test("a checksummed append stores the body only when it matches", async (store) => {
    const id = newUploadId();
    await store.create({ id, length: 3000, metadata: "", createdAt: 0 });
    const data = bytes(3000, 3);
    await limitedAppend(store, id, 0, streamOf(data.subarray(0, 1000)), {
      maxBytes: 3000,
      signal: never,
    });
    const good = parseChecksum(checksumOf("sha1", data.subarray(1000, 2000)));
    const bad = parseChecksum(checksumOf("sha1", data.subarray(0, 1000)));
    const mismatch = await limitedAppend(store, id, 1000, streamOf(data.subarray(1000, 2000)), {
      maxBytes: 2000,
      signal: never,
      checksum: { algorithm: "sha1", expected: () => Promise.resolve(bad) },
    });
    assert.equal(mismatch.checksumMismatch, true);
    assert.equal(mismatch.offset, 1000);
    assert.equal((await store.get(id))?.offset, 1000, "a mismatched body leaves nothing");
    const match = await limitedAppend(store, id, 1000, streamOf(data.subarray(1000, 2000)), {
      maxBytes: 2000,
      signal: never,
      checksum: { algorithm: "sha1", expected: () => Promise.resolve(good) },
    });
    assert.equal(match.checksumMismatch, undefined);
    assert.equal(match.offset, 2000);
    // Trailer style: the algorithm is only known once the body has ended.
    const tail = parseChecksum(checksumOf("sha256", data.subarray(2000)));
    const trailer = await limitedAppend(store, id, 2000, streamOf(data.subarray(2000)), {
      maxBytes: 1000,
      signal: never,
      checksum: { expected: () => Promise.resolve(tail) },
    });
    assert.equal(trailer.offset, 3000);
    assert.deepEqual(await readAll(await store.read(id, 0, 3000)), data);
    const expected = new DigestState();
    expected.update(data);
    assert.deepEqual(await store.finish(id), expected.digest(), "running digests saw only commits");
  });

  test("a checksummed body cut off mid-way stores nothing", async (store) => {
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    const body = cutAfter(bytes(500));
    const result = await limitedAppend(store, id, 0, body, {
      maxBytes: 10_000,
      signal: never,
      checksum: {
        algorithm: "md5",
        expected: () => Promise.resolve(parseChecksum(checksumOf("md5", bytes(1000)))),
      },
    });
    assert.ok(result.bodyError);
    assert.equal(result.offset, 0);
    assert.equal((await store.get(id))?.offset, 0);
  });

  test("assemble streams parts into a final, continuing after what it already holds", async (store) => {
    const parts = [bytes(700, 1), bytes(300, 2), bytes(500, 3)];
    const ids = [];
    for (const part of parts) {
      const id = newUploadId();
      await store.create({ id, length: part.length, metadata: "", createdAt: 0 });
      await limitedAppend(store, id, 0, streamOf(part), { maxBytes: part.length, signal: never });
      ids.push({ id, length: part.length });
    }
    const all = new Uint8Array(1500);
    all.set(parts[0]!, 0);
    all.set(parts[1]!, 700);
    all.set(parts[2]!, 1000);
    const final = newUploadId();
    await store.create({ id: final, length: 1500, metadata: "", createdAt: 0 });
    // As if a crash had cut an earlier assembly short, inside the second part.
    await limitedAppend(store, final, 0, streamOf(all.subarray(0, 850)), {
      maxBytes: 1500,
      signal: never,
    });
    assert.equal(await store.assemble(final, ids), 1500);
    assert.deepEqual(await readAll(await store.read(final, 0, 1500)), all);
    const expected = new DigestState();
    expected.update(all);
    assert.deepEqual(await store.finish(final), expected.digest());
  });

  test("declareLength records the length of a deferred upload", async (store) => {
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    assert.equal((await store.get(id))?.length, undefined);
    await store.declareLength(id, 42);
    assert.equal((await store.get(id))?.length, 42);
  });

  test("declareLength on an upload that was removed or ended is gone, and records nothing", async (store) => {
    const removed = newUploadId();
    await store.create({ id: removed, metadata: "", createdAt: 0 });
    await store.remove(removed);
    await rejectsWith("gone", () => store.declareLength(removed, 42));
    assert.equal(await store.get(removed), undefined, "no upload comes back");
    const ended = newUploadId();
    await store.create({ id: ended, metadata: "", createdAt: 0 });
    await store.remove(ended, { state: "expired", at: 1 });
    await rejectsWith("gone", () => store.declareLength(ended, 42));
    assert.equal((await store.get(ended))?.length, undefined, "the tombstone is unchanged");
  });

  test("remove deletes the upload once", async (store) => {
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, streamOf(bytes(10)), { maxBytes: 10, signal: never });
    assert.equal(await store.remove(id), true);
    assert.equal(await store.get(id), undefined);
    assert.equal(await store.remove(id), false);
  });

  test("remove with an ending leaves a tombstone, dropped later by collectGarbage", async (store) => {
    const id = newUploadId();
    await store.create({ id, length: 10, metadata: "", createdAt: 0, owner: "ann" });
    await limitedAppend(store, id, 0, streamOf(bytes(4)), { maxBytes: 10, signal: never });
    const at = Date.now();
    assert.equal(await store.remove(id, { state: "terminated", at }), true);
    const tomb = await store.get(id);
    assert.deepEqual(tomb?.ended, { state: "terminated", at });
    assert.equal(tomb?.offset, 0, "the bytes are gone");
    assert.equal(tomb?.owner, "ann");
    assert.equal(await store.remove(id, { state: "expired", at }), false, "ends only once");
    assert.deepEqual((await store.get(id))?.ended?.state, "terminated");
    const listed: string[] = [];
    for await (const each of store.list()) listed.push(each);
    assert.ok(listed.includes(id), "a tombstone is listed");
    if (store.collectGarbage) {
      await store.collectGarbage(0, at); // ended at `at`, not before: kept
      assert.ok(await store.get(id));
      assert.ok((await store.collectGarbage(0, at + 1)) >= 1);
      assert.equal(await store.get(id), undefined);
    }
  });

  test("what a store can't do is a StoreError of a kind, never a status", async (store) => {
    const unknown = newUploadId();
    await rejectsWith("not-found", () => store.finish(unknown));
    await rejectsWith("not-found", () => store.read(unknown, 0, 0));
    const part = await newPart(store);
    await store.remove(part, { state: "terminated", at: 1 });
    await rejectsWith("part-gone", () => store.addFinal(part, newUploadId()));
    await rejectsWith("part-gone", () => store.addFinal(unknown, newUploadId()));
  });

  test("a part records each final upload that uses it, once", async (store) => {
    const part = await newPart(store);
    const [a, b] = [newUploadId(), newUploadId()];
    for (const final of [a, b, a]) await store.addFinal(part, final);
    assert.deepEqual((await store.get(part))?.concat, { kind: "partial", finals: [a, b] });
  });

  test("list yields every upload", async (store) => {
    const ids = [newUploadId(), newUploadId(), newUploadId()];
    for (const id of ids) await store.create({ id, metadata: "", createdAt: 0 });
    const listed: string[] = [];
    for await (const id of store.list()) listed.push(id);
    assert.deepEqual(listed.sort(), [...ids].sort());
  });
}

/** `data` in pieces of at most 64 KiB, as a socket hands a body over, then a connection reset. */
export function cutAfter(data: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= data.length) return controller.error(new Error("connection reset"));
      controller.enqueue(data.slice(at, at += 64 * 1024));
    },
  });
}
