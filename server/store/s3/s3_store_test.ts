import assert from "node:assert/strict";
import { DigestState } from "../../../lib/deno/digest.ts";
import { toUploadError, UploadError } from "../../../lib/errors.ts";
import { newUploadId } from "../../../lib/ids.ts";
import {
  emptyPrefix,
  multipartUploads,
  objectKeys,
  type Services,
  testBucket,
  testSchema,
  testServices,
} from "../../../tests/helpers/services.ts";
import { storeConformance } from "../conformance.ts";
import { S3Client } from "./s3_client.ts";
import { TcpProxy } from "../../../tests/helpers/tcp_proxy.ts";
import { S3Store } from "./s3_store.ts";
import { limitedAppend } from "../limited_append.ts";

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const services = testServices();
const never = new AbortController().signal;

interface World {
  s3: S3Client;
  prefix: string;
  /** Another store on the same bucket, database and prefix: a second instance. */
  open(options?: { now?: () => number; s3?: S3Client; partSize?: number }): Promise<S3Store>;
}

/** A bucket prefix, a database schema and scratch dirs of their own; `cleanup` removes them. */
async function makeWorld(services: Services): Promise<{ world: World; cleanup(): Promise<void> }> {
  const s3 = await testBucket(services);
  const schema = await testSchema(services);
  const prefix = `${schema.name}/`;
  const dirs: string[] = [];
  const open = async (options: { now?: () => number; s3?: S3Client; partSize?: number } = {}) => {
    const dir = await Deno.makeTempDir({ prefix: "resumable-s3-" });
    dirs.push(dir);
    return await S3Store.open({ s3, rows: schema.rows, dir, partSize: PART, prefix, ...options });
  };
  return {
    world: { s3, prefix, open },
    async cleanup() {
      await emptyPrefix(s3, prefix).catch(() => {});
      await schema.drop();
      s3.close();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function s3Test(name: string, fn: (world: World) => Promise<void>): void {
  Deno.test({
    name: `S3Store: ${name}`,
    ignore: services === undefined,
    async fn() {
      const { world, cleanup } = await makeWorld(services!);
      try {
        await fn(world);
      } finally {
        await cleanup();
      }
    },
  });
}

if (services) {
  storeConformance("S3Store+PostgreSQL", {
    async make() {
      const { world, cleanup } = await makeWorld(services);
      return { store: await world.open(), cleanup };
    },
  });
} else {
  Deno.test({ name: "S3Store+PostgreSQL: store conformance", ignore: true, fn() {} });
}

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A body in chunks of `size` bytes, as a network would deliver it. */
function chunked(data: Uint8Array, size = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.length) return controller.close();
      controller.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function digestsOf(data: Uint8Array) {
  const state = new DigestState();
  state.update(data);
  return state.digest();
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

s3Test("reading an unfinished upload beyond its first part is refused with 409", async (world) => {
  const store = await world.open();
  const id = newUploadId();
  await store.create({ id, metadata: "", createdAt: 0 });
  await limitedAppend(store, id, 0, chunked(bytes(PART + 1)), {
    maxBytes: Infinity,
    signal: never,
  });
  await assert.rejects(
    store.read(id, 0, 10),
    (e) => e instanceof UploadError && e.status === 409,
  );
});

/** An S3 client reaching the bucket through `proxy` (to cut its connections). */
function viaProxy(proxy: TcpProxy): S3Client {
  return new S3Client({ ...services!.s3, endpoint: proxy.origin, attempts: 3 });
}

s3Test("an S3 connection cut mid-part is retried and the upload stays intact", async (world) => {
  const endpoint = new URL(services!.s3.endpoint);
  await using proxy = TcpProxy.start({
    target: { hostname: endpoint.hostname, port: Number(endpoint.port) },
  });
  const s3 = viaProxy(proxy);
  try {
    const store = await world.open({ s3 });
    const data = bytes(2 * PART + 12345, 13);
    const id = newUploadId();
    await store.create({ id, length: data.length, metadata: "", createdAt: 0 });
    proxy.cutAfterUpstreamBytes(PART + MiB); // inside the second part
    const result = await limitedAppend(store, id, 0, chunked(data), {
      maxBytes: data.length,
      signal: never,
    });
    await proxy.cut;
    assert.equal(result.offset, data.length);
    assert.deepEqual(await store.finish(id), digestsOf(data));
  } finally {
    s3.close();
  }
});

s3Test(
  "S3 gone mid-PATCH: 503, nothing recorded that isn't in S3, resumable elsewhere",
  async (world) => {
    const endpoint = new URL(services!.s3.endpoint);
    const proxy = TcpProxy.start({
      target: { hostname: endpoint.hostname, port: Number(endpoint.port) },
    });
    const s3 = viaProxy(proxy);
    try {
      const a = await world.open({ s3 });
      const data = bytes(3 * PART + 999, 17);
      const id = newUploadId();
      await a.create({ id, length: data.length, metadata: "", createdAt: 0 });
      proxy.cutAfterUpstreamBytes(2 * PART + MiB); // inside the third part…
      void proxy.cut.then(() => proxy.close()); // …and S3 stays unreachable
      await assert.rejects(
        limitedAppend(a, id, 0, chunked(data), { maxBytes: data.length, signal: never }),
        (e) => toUploadError(e).status === 503,
      );
      const b = await world.open(); // another instance, which can reach S3
      const offset = (await b.get(id))!.offset;
      assert.ok(offset % PART === 0 && offset <= 2 * PART, `recorded ${offset}`);
      const rest = await limitedAppend(b, id, offset, chunked(data.subarray(offset)), {
        maxBytes: data.length,
        signal: never,
      });
      assert.equal(rest.offset, data.length);
      assert.deepEqual(await readAll(await b.read(id, 0, data.length)), data);
    } finally {
      s3.close();
      await proxy.close();
    }
  },
);

s3Test("instances with different part sizes continue each other's tails", async (world) => {
  const big = await world.open({ partSize: 7 * MiB });
  const small = await world.open({ partSize: PART });
  const data = bytes(17 * MiB + 3, 19);
  const id = newUploadId();
  await big.create({ id, length: data.length, metadata: "", createdAt: 0 });
  const cut = 6 * MiB + 11; // a 6 MiB tail: more than the other instance's whole part
  await limitedAppend(big, id, 0, chunked(data.subarray(0, cut)), {
    maxBytes: data.length,
    signal: never,
  });
  const rest = await limitedAppend(small, id, cut, chunked(data.subarray(cut)), {
    maxBytes: data.length,
    signal: never,
  });
  assert.equal(rest.offset, data.length);
  assert.deepEqual(await readAll(await small.read(id, 0, data.length)), data);
});

s3Test("an empty upload becomes an empty object", async (world) => {
  const store = await world.open();
  const id = newUploadId();
  await store.create({ id, length: 0, metadata: "", createdAt: 0 });
  assert.deepEqual(await store.finish(id), digestsOf(new Uint8Array(0)));
  assert.deepEqual(await readAll(await store.read(id, 0, 0)), new Uint8Array(0));
  assert.deepEqual(await objectKeys(world.s3, world.prefix), [store.objectKey(id)]);
});

Deno.test({
  name: "S3Client: a download its reader pauses longer than the idle timeout still completes",
  ignore: services === undefined,
  sanitizeResources: false,
  async fn() {
    const svc = services!;
    const s3 = new S3Client({ ...svc.s3, idleMs: 300 });
    await s3.ensureBucket();
    const key = `idle-${newUploadId()}`;
    const bytes = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251);
    try {
      await s3.putObject(key, bytes);
      const reader = (await s3.getObject(key)).getReader();
      let got = (await reader.read()).value?.length ?? 0;
      // A client that stops reading (a paused download) for longer than the idle timeout: the
      // connection is quiet on purpose and must not be cut. (A pause, not synchronisation.)
      await new Promise((r) => setTimeout(r, 1000));
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
      assert.equal(got, bytes.length);
    } finally {
      await s3.deleteObject(key).catch(() => {});
      s3.close();
    }
  },
});
