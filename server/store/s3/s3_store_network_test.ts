/** S3Store and S3Client over a network that cuts or idles their connections. */
import assert from "node:assert/strict";
import { newUploadId } from "../../../lib/ids.ts";
import { objectKeys } from "../../../tests/helpers/services.ts";
import { S3Client } from "./s3_client.ts";
import { TcpProxy } from "../../../tests/helpers/tcp_proxy.ts";
import { limitedAppend } from "../limited_append.ts";
import { StoreError } from "../types.ts";
import {
  bytes,
  chunked,
  digestsOf,
  MiB,
  never,
  PART,
  readAll,
  s3Test,
  services,
} from "./s3_store_test_world.ts";

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
  "S3 gone mid-PATCH: storage unavailable, nothing recorded that isn't in S3, resumable elsewhere",
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
        (e) => e instanceof StoreError && e.kind === "storage-unavailable",
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
