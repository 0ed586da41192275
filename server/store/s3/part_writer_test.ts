import assert from "node:assert/strict";
import type { RunningDigest } from "../../../lib/deno/digest_pool.ts";
import { newUploadId } from "../../../lib/ids.ts";
import { WRITE_BUFFER } from "../write_buffer.ts";
import { ObjectKeys } from "./keys.ts";
import { PartWriter, type PartWriterContext } from "./part_writer.ts";
import { bytes, MiB, PART, s3Test, type World } from "./s3_store_test_world.ts";
import { TailCache } from "./tail_cache.ts";

/** A running digest that only records the sizes it is fed. */
function recordingDigest(): RunningDigest & { updates: number[] } {
  const updates: number[] = [];
  return {
    updates,
    get length() {
      return updates.reduce((n, u) => n + u, 0);
    },
    update(bytes) {
      updates.push(bytes.length);
      return Promise.resolve();
    },
    digest: () => Promise.reject(new Error("not hashing")),
    drop() {},
  };
}

async function context(world: World): Promise<PartWriterContext & AsyncDisposable> {
  const buffers = await Deno.makeTempDir({ prefix: "resumable-part-writer-" });
  return {
    s3: world.s3,
    rows: world.rows,
    keys: new ObjectKeys(world.prefix),
    tails: new TailCache(),
    buffers,
    partSize: PART,
    now: Date.now,
    async [Symbol.asyncDispose]() {
      await Deno.remove(buffers, { recursive: true });
    },
  };
}

/** Pushes `data` as a network delivers it: 64 KiB at a time. */
async function pushChunked(writer: PartWriter, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length; at += 64 * 1024) {
    await writer.push(data.subarray(at, at + 64 * 1024));
  }
}

s3Test(
  "a writer feeds the running digest whole write buffers, however small the body's chunks",
  async (world) => {
    // Each update holds a pooled piece of the digest's until hashed: one per 64 KiB chunk would
    // hold sixteen times the bytes in flight.
    await using deps = await context(world);
    const data = bytes(2 * PART + 3 * MiB + 100);
    const id = newUploadId();
    const row = await world.rows.insert({ id, length: data.length, metadata: "", createdAt: 0 }, 0);
    const digest = recordingDigest();
    const writer = new PartWriter(deps, row, digest);
    await pushChunked(writer, data);
    const after = await writer.close();
    assert.equal(after.partsBytes + after.tailBytes, data.length);
    assert.equal(digest.length, data.length);
    assert.deepEqual(
      digest.updates.slice(0, -1).filter((n) => n !== WRITE_BUFFER),
      [],
      "every update but the last is one whole write buffer",
    );
  },
);

s3Test("a tail fetched back from S3 is not fed to the running digest again", async (world) => {
  await using deps = await context(world);
  const data = bytes(PART + 2 * MiB);
  const cut = 300 * 1024;
  const id = newUploadId();
  let row = await world.rows.insert({ id, length: data.length, metadata: "", createdAt: 0 }, 0);
  const first = recordingDigest();
  const writer = new PartWriter(deps, row, first);
  await pushChunked(writer, data.subarray(0, cut));
  row = await writer.close();
  assert.equal(row.tailBytes, cut);
  deps.tails.clear(); // this instance lost its copy: the next writer fetches the tail from S3
  const second = recordingDigest();
  const next = new PartWriter(deps, row, second);
  await pushChunked(next, data.subarray(cut));
  const done = await next.close();
  assert.ok(done.completed);
  assert.equal(second.length, data.length - cut, "only the new bytes");
});
