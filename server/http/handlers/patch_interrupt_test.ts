/**
 * PATCH to an upload that is gone, and PATCH cut short: a failing body, a HEAD or DELETE that
 * stops a writer, shutdown, and a full disk.
 */
import assert from "node:assert/strict";
import { MemoryLocker } from "../../lock/locker.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import type { AppendOutcome } from "../../store/types.ts";
import {
  assertTusError,
  bytes,
  createUpload,
  harness,
  OCTET,
  patchRequest,
  request,
  stored,
  streamPatch,
  T0,
  TUS,
} from "./test_harness.ts";

Deno.test("PATCH answers 404 and creates nothing for an unknown upload", async () => {
  const h = harness();
  const id = "ef".repeat(16);
  assertTusError(await h.send(patchRequest(id, 0, bytes(3))), 404);
  assert.equal(await h.store.get(id), undefined);
});

Deno.test("PATCH answers 410 and writes nothing once the upload has expired", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 10 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(2)))).status, 204);
  h.clock.advance(60_001);
  assertTusError(await h.send(patchRequest(id, 2, bytes(2, 2))), 410);
  assert.deepEqual(await stored(h.store, id), { offset: 2, length: 10, data: bytes(2) });
});

Deno.test("PATCH sent as POST with X-HTTP-Method-Override: PATCH appends", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(request("POST", `/files/${id}`, {
    headers: {
      ...TUS,
      "X-HTTP-Method-Override": "PATCH",
      "Content-Type": OCTET,
      "Content-Length": "5",
      "Upload-Offset": "0",
    },
    body: bytes(5),
  }));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "5");
  assert.deepEqual((await stored(h.store, id))?.data, bytes(5));
});

Deno.test("PATCH whose body fails midway answers 400 with the offset of the bytes kept", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const patch = streamPatch(h, id);
  await patch.feed(bytes(3), 3);
  patch.body.fail(new Error("connection reset"));
  const res = await patch.reply;
  assertTusError(res, 400);
  assert.equal(res.headers.get("upload-offset"), "3");
  assert.deepEqual(await stored(h.store, id), { offset: 3, length: 10, data: bytes(3) });
});

Deno.test("PATCH still writing is stopped by a later HEAD: HEAD answers the bytes that arrived and the PATCH 204", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 100 });
  const patch = streamPatch(h, id);
  await patch.feed(bytes(7), 7);
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("upload-offset"), "7");
  const res = await patch.reply;
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "7");
  await patch.body.cancelled;
  assert.deepEqual(await stored(h.store, id), { offset: 7, length: 100, data: bytes(7) });
});

Deno.test("PATCH that stored nothing yet is stopped by a later HEAD and answers 423", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 100 });
  const patch = streamPatch(h, id);
  await patch.body.pulled; // the PATCH holds the lock and waits for bytes
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("upload-offset"), "0");
  const res = await patch.reply;
  assertTusError(res, 423);
  assert.equal(res.headers.get("upload-offset"), "0");
  await patch.body.cancelled;
  assert.equal((await h.store.get(id))?.offset, 0);
});

Deno.test("PATCH still writing is stopped by a DELETE, which then removes the upload", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 100 });
  const patch = streamPatch(h, id);
  await patch.feed(bytes(5), 5);
  const del = await h.send(request("DELETE", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(del.status, 204);
  const res = await patch.reply;
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "5");
  await patch.body.cancelled;
  assert.equal((await h.store.get(id))?.ended?.state, "terminated");
});

Deno.test("HEAD answers 423 with Retry-After when the holder of the upload never lets go", async () => {
  const locker = new MemoryLocker(20);
  const h = harness({ locker, config: { lockTimeoutMs: 20 } });
  const id = await createUpload(h, { length: 10 });
  const held = await locker.acquire(id);
  try {
    const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
    assert.equal(head.status, 423);
    assert.equal(head.headers.get("retry-after"), "1");
    const res = await h.send(patchRequest(id, 0, bytes(2)));
    assertTusError(res, 423);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal((await h.store.get(id))?.offset, 0);
  } finally {
    await held[Symbol.asyncDispose]();
  }
  const after = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(after.status, 200);
});

Deno.test("PATCH in flight at shutdown answers 503 with Retry-After and the offset of the bytes kept", async () => {
  const shutdown = new AbortController();
  const h = harness({ shutdown: shutdown.signal });
  const id = await createUpload(h, { length: 100 });
  const patch = streamPatch(h, id);
  await patch.feed(bytes(4), 4);
  shutdown.abort();
  const res = await patch.reply;
  assertTusError(res, 503);
  assert.equal(res.headers.get("upload-offset"), "4");
  assert.ok(res.headers.get("retry-after"));
  await patch.body.cancelled;
  assert.deepEqual(await stored(h.store, id), { offset: 4, length: 100, data: bytes(4) });
});

Deno.test("requests after shutdown answer 503 with Retry-After, OPTIONS still 204", async () => {
  const shutdown = new AbortController();
  const h = harness({ shutdown: shutdown.signal });
  const id = await createUpload(h, { length: 10 });
  shutdown.abort();
  const post = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "1" } }),
  );
  assertTusError(post, 503);
  assert.ok(post.headers.get("retry-after"));
  const patch = await h.send(patchRequest(id, 0, bytes(1)));
  assertTusError(patch, 503);
  assert.equal((await h.store.get(id))?.offset, 0);
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 503);
  assert.ok(head.headers.get("retry-after"));
  const options = await h.send(request("OPTIONS", "/files"));
  assert.equal(options.status, 204);
});

/** A store whose disk is full: every append fails as Deno reports ENOSPC. */
class FullDiskStore extends MemoryStore {
  override append(
    _id: string,
    _offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome> {
    void body?.cancel();
    const error = Object.assign(
      new Error("No space left on device (os error 28): write"),
      { code: "ENOSPC" },
    );
    return Promise.reject(error);
  }
}

Deno.test("PATCH answers 507 when the disk is full", async () => {
  const clockNow = () => T0;
  const store = new FullDiskStore(clockNow);
  const h = harness({ store });
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(patchRequest(id, 0, bytes(3)));
  assertTusError(res, 507);
  assert.equal((await store.get(id))?.offset, 0);
});

Deno.test("every PATCH response carries Upload-Expires while the upload can expire, refusals too", async () => {
  const h = harness({ config: { expireMs: 3_600_000, maxSize: 100 } });
  const id = await createUpload(h, { length: 10 });
  const expires = new Date(T0 + 3_600_000).toUTCString();
  const refusals = [
    patchRequest(id, 3, bytes(2)), // 409
    patchRequest(id, 0, bytes(20)), // 413
    patchRequest(id, 0, bytes(2), { "Upload-Checksum": "sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=" }), // 460
    patchRequest(id, 0, bytes(2), { "Upload-Length": "20" }), // 400: the length is fixed
  ];
  for (const req of refusals) {
    const res = await h.send(req);
    assert.ok(res.status >= 400, `${res.status} ${res.text}`);
    assert.equal(res.headers.get("upload-expires"), expires, `${res.status} ${res.text}`);
  }
  const unknown = await h.send(patchRequest("0123456789abcdef0123456789abcdef", 0, bytes(2)));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("upload-expires"), null, "no upload, no expiry");
  assert.equal((await stored(h.store, id))?.offset, 0);
});
