import assert from "node:assert/strict";
import { newUploadId } from "../../../lib/ids.ts";
import { multipartUploads, objectKeys } from "../../../tests/helpers/services.ts";
import { storeConformance } from "../conformance.ts";
import { limitedAppend } from "../limited_append.ts";
import { StoreError } from "../types.ts";
import {
  bytes,
  chunked,
  digestsOf,
  makeWorld,
  MiB,
  never,
  PART,
  readAll,
  s3Test,
  services,
} from "./s3_store_test_world.ts";

if (services) {
  storeConformance("S3Store+PostgreSQL", {
    async make() {
      const { world, cleanup } = await makeWorld(services!);
      return { store: await world.open(), cleanup };
    },
  });
} else {
  Deno.test({ name: "S3Store+PostgreSQL: store conformance", ignore: true, fn() {} });
}

s3Test(
  "an upload spanning several parts, written by two instances in odd pieces, reads back whole",
  async (world) => {
    const a = await world.open();
    const b = await world.open();
    const data = bytes(2 * PART + 3 * MiB + 17);
    const id = newUploadId();
    await a.create({ id, length: data.length, metadata: "", createdAt: 0 });
    // Cuts that fall inside parts, on a part boundary, and across two boundaries at once.
    const cuts = [0, 1_000_000, PART, PART + 123, 2 * PART + 5, data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const store = i % 2 === 0 ? a : b;
      const result = await limitedAppend(
        store,
        id,
        cuts[i]!,
        chunked(data.subarray(cuts[i]!, cuts[i + 1]!)),
        {
          maxBytes: data.length - cuts[i]!,
          signal: never,
        },
      );
      assert.equal(result.offset, cuts[i + 1], `append ${i}`);
      assert.equal((await b.get(id))?.offset, cuts[i + 1], "every instance sees the same offset");
    }
    assert.deepEqual(await readAll(await a.read(id, 0, data.length)), data);
    assert.deepEqual(
      await readAll(await b.read(id, PART - 10, PART + 10)),
      data.subarray(PART - 10, PART + 10),
    );
    assert.deepEqual(await b.finish(id), digestsOf(data), "rehashed from the object by b");
    assert.deepEqual(
      await multipartUploads(world.s3, world.prefix),
      [],
      "the multipart upload was completed",
    );
    assert.deepEqual(await objectKeys(world.s3, world.prefix), [a.objectKey(id)], "no tails left");
  },
);

s3Test(
  "acknowledged bytes survive the instance that took them, local buffers and all",
  async (world) => {
    const a = await world.open();
    const data = bytes(PART + 2 * MiB + 99, 5);
    const id = newUploadId();
    await a.create({ id, length: data.length, metadata: "", createdAt: 0 });
    const first = await limitedAppend(a, id, 0, chunked(data.subarray(0, PART + MiB)), {
      maxBytes: data.length,
      signal: never,
    });
    assert.equal(first.offset, PART + MiB);
    // Instance a is gone with its disk: b has only S3 and PostgreSQL.
    const b = await world.open();
    assert.equal((await b.get(id))?.offset, PART + MiB);
    const rest = await limitedAppend(b, id, PART + MiB, chunked(data.subarray(PART + MiB)), {
      maxBytes: data.length,
      signal: never,
    });
    assert.equal(rest.offset, data.length);
    assert.deepEqual(await readAll(await b.read(id, 0, data.length)), data);
    assert.deepEqual(await b.finish(id), digestsOf(data));
  },
);

s3Test("a body stopped mid-way keeps what arrived, inside a part or past it", async (world) => {
  const store = await world.open();
  const data = bytes(PART + MiB + 7, 9);
  const id = newUploadId();
  await store.create({ id, metadata: "", createdAt: 0 });
  const stop = new AbortController();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= data.length) {
        stop.abort(); // then silence: a stalled client
        return;
      }
      const n = Math.min(256 * 1024 + 1, data.length - sent);
      controller.enqueue(data.slice(sent, sent + n));
      sent += n;
    },
  });
  const result = await limitedAppend(store, id, 0, body, {
    maxBytes: Infinity,
    signal: stop.signal,
  });
  assert.equal(result.stopped, true);
  assert.equal(result.offset, data.length);
  await store.declareLength(id, data.length);
  assert.deepEqual(await readAll(await store.read(id, 0, data.length)), data);
  assert.deepEqual(await store.finish(id), digestsOf(data));
});

s3Test(
  "a writer whose upload changed under it records nothing and reports the offset",
  async (world) => {
    const a = await world.open();
    const b = await world.open();
    const id = newUploadId();
    await a.create({ id, length: 2000, metadata: "", createdAt: 0 });
    // a starts writing and stalls; b (which, without locks, doesn't know) writes the same range.
    let resume!: () => void;
    const stalled = new Promise<void>((r) => resume = r);
    let step = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        step++;
        if (step === 1) return controller.enqueue(new Uint8Array(500).fill(1));
        await stalled;
        controller.close();
      },
    });
    const racing = limitedAppend(a, id, 0, slow, { maxBytes: 2000, signal: never });
    const mine = bytes(800, 3);
    assert.equal(
      (await limitedAppend(b, id, 0, chunked(mine), { maxBytes: 2000, signal: never })).offset,
      800,
    );
    resume();
    const outcome = await racing;
    assert.equal(outcome.offsetMismatch, true);
    assert.equal(outcome.offset, 800);
    assert.equal((await a.get(id))?.offset, 800);
    assert.deepEqual(await readAll(await a.read(id, 0, 800)), mine, "b's bytes, untouched");
  },
);

s3Test(
  "termination and expiry abort the multipart upload and delete every object",
  async (world) => {
    const store = await world.open();
    const ids = [newUploadId(), newUploadId()];
    for (const id of ids) {
      await store.create({ id, length: 3 * PART, metadata: "", createdAt: 0 });
      await limitedAppend(store, id, 0, chunked(bytes(PART + 100)), {
        maxBytes: 3 * PART,
        signal: never,
      });
    }
    assert.equal((await multipartUploads(world.s3, world.prefix)).length, 2);
    assert.equal((await objectKeys(world.s3, world.prefix)).length, 2, "two tails");
    assert.equal(await store.remove(ids[0]!), true);
    assert.equal(await store.remove(ids[1]!, { state: "expired", at: Date.now() }), true);
    assert.deepEqual(await multipartUploads(world.s3, world.prefix), []);
    assert.deepEqual(await objectKeys(world.s3, world.prefix), []);
    assert.equal((await store.get(ids[1]!))?.ended?.state, "expired");
  },
);

s3Test(
  "collectGarbage aborts multipart uploads and deletes objects no upload refers to",
  async (world) => {
    let clock = Date.now();
    const store = await world.open({ now: () => clock });
    const live = newUploadId();
    await store.create({ id: live, length: 2 * PART, metadata: "", createdAt: 0 });
    await limitedAppend(store, live, 0, chunked(bytes(PART + 10)), {
      maxBytes: 2 * PART,
      signal: never,
    });
    // Leftovers of a crash: a multipart upload and a tail never recorded, and a stale tail.
    const ghost = newUploadId();
    await world.s3.createMultipartUpload(store.objectKey(ghost));
    await world.s3.putObject(`${store.objectKey(ghost)}.tail-00000000`, new Uint8Array(3));
    await world.s3.putObject(`${store.objectKey(live)}.tail-deadbeef`, new Uint8Array(3));
    await world.s3.putObject(`${world.prefix}not-ours.txt`, new Uint8Array(1));
    assert.equal(await store.collectGarbage(Date.now() - 3_600_000), 0, "young leftovers stay");
    assert.equal(await store.collectGarbage(Date.now() + 60_000), 0, "one scan an hour at most");
    clock += 3_600_000;
    assert.equal(await store.collectGarbage(Date.now() + 60_000), 3);
    assert.deepEqual(await multipartUploads(world.s3, world.prefix), [store.objectKey(live)]);
    const keys = await objectKeys(world.s3, world.prefix);
    assert.equal(keys.length, 2, `the live tail and the stranger stay: ${keys}`);
    assert.ok(keys.includes(`${world.prefix}not-ours.txt`));
    assert.equal((await store.get(live))?.offset, PART + 10);
  },
);

s3Test(
  "reading an unfinished upload beyond its first part is refused as in progress",
  async (world) => {
    const store = await world.open();
    const id = newUploadId();
    await store.create({ id, metadata: "", createdAt: 0 });
    await limitedAppend(store, id, 0, chunked(bytes(PART + 1)), {
      maxBytes: Infinity,
      signal: never,
    });
    await assert.rejects(
      store.read(id, 0, 10),
      (e) => e instanceof StoreError && e.kind === "in-progress",
    );
  },
);
