import assert from "node:assert/strict";
import {
  assertPlainError,
  assertTusError,
  bytes,
  ControlledBody,
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

/** The stored bytes are a prefix of `sent`, no longer than `limit`, and match `Upload-Offset`. */
function assertPrefixWithin(
  data: Uint8Array,
  sent: Uint8Array,
  limit: number,
  offsetHeader: string | null,
): void {
  assert.ok(data.length <= limit, `${data.length} bytes stored, more than ${limit}`);
  assert.deepEqual(data, sent.subarray(0, data.length));
  if (offsetHeader !== null) assert.equal(offsetHeader, String(data.length));
}

Deno.test("PATCH answers 204 with the new Upload-Offset and stores the bytes", async () => {
  const h = harness({ config: { expireMs: 0 } });
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(patchRequest(id, 0, bytes(4)));
  assert.equal(res.status, 204);
  assert.ok(res.noBody);
  assert.equal(res.headers.get("upload-offset"), "4");
  assert.equal(res.headers.get("upload-expires"), null);
  const res2 = await h.send(patchRequest(id, 4, bytes(6, 4)));
  assert.equal(res2.status, 204);
  assert.equal(res2.headers.get("upload-offset"), "10");
  assert.deepEqual(await stored(h.store, id), { offset: 10, length: 10, data: bytes(10) });
});

Deno.test("PATCH answers Upload-Expires renewed from the time of the write", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 10 });
  h.clock.advance(30_000);
  const res = await h.send(patchRequest(id, 0, bytes(4)));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-expires"), new Date(T0 + 90_000).toUTCString());
  h.clock.advance(59_000);
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200, "the write renewed the upload");
});

Deno.test("a PATCH that stores nothing does not promise a later expiry than the real one", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const id = await createUpload(h);
  h.clock.advance(30_000);
  const res = await h.send(patchRequest(id, 0, bytes(0), { "Upload-Length": "10" }));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-expires"), new Date(T0 + 60_000).toUTCString());
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.headers.get("upload-expires"), res.headers.get("upload-expires"));
});

Deno.test("PATCH answers 415 and writes nothing when a tus request has the wrong Content-Type", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  for (const type of ["application/octet-stream", "text/plain", "application/offset+json"]) {
    const res = await h.send(patchRequest(id, 0, bytes(3), { "Content-Type": type }));
    assertTusError(res, 415, type);
  }
  const noType = request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Upload-Offset": "0", "Content-Length": "3" },
    body: bytes(3),
  });
  assertTusError(await h.send(noType), 415, "no Content-Type");
  assert.equal((await h.store.get(id))?.offset, 0);
});

Deno.test("PATCH accepts a Content-Type with parameters and in any case", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(
    patchRequest(id, 0, bytes(2), { "Content-Type": "Application/Offset+Octet-Stream; x=1" }),
  );
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "2");
});

Deno.test("PATCH in the plain dialect accepts any Content-Type, or none", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const typed = request("PATCH", `/files/${id}`, {
    headers: { "Upload-Offset": "0", "Content-Type": "text/plain" },
    body: bytes(3),
  });
  const res = await h.send(typed);
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "3");
  const untyped = request("PATCH", `/files/${id}`, {
    headers: { "Upload-Offset": "3" },
    body: bytes(2, 3),
  });
  const res2 = await h.send(untyped);
  assert.equal(res2.status, 204);
  assert.equal(res2.headers.get("upload-offset"), "5");
  assert.deepEqual((await stored(h.store, id))?.data, bytes(5));
});

Deno.test("PATCH in the plain dialect accepts a streamed body without Content-Length", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const body = new ControlledBody();
  const pending = h.send(request("PATCH", `/files/${id}`, {
    headers: { "Upload-Offset": "0" },
    body: body.stream,
  }));
  body.push(bytes(4));
  body.push(bytes(3, 4));
  body.close();
  const res = await pending;
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "7");
  assert.deepEqual((await stored(h.store, id))?.data, bytes(7));
});

Deno.test("PATCH answers 409 with the current Upload-Offset and writes nothing when Upload-Offset is ahead", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(patchRequest(id, 3, bytes(3)));
  assertTusError(res, 409);
  assert.equal(res.headers.get("upload-offset"), "0");
  assert.deepEqual(await stored(h.store, id), { offset: 0, length: 10, data: new Uint8Array() });
});

Deno.test("PATCH answers 409 and writes nothing when Upload-Offset is behind", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
  const res = await h.send(patchRequest(id, 2, new Uint8Array([0, 0, 0])));
  assertTusError(res, 409);
  assert.equal(res.headers.get("upload-offset"), "4");
  assert.deepEqual(await stored(h.store, id), { offset: 4, length: 10, data: bytes(4) });
});

Deno.test("PATCH in the plain dialect answers 409 as JSON with the current Upload-Offset", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(request("PATCH", `/files/${id}`, {
    headers: { "Upload-Offset": "5" },
    body: bytes(1),
  }));
  assertPlainError(res, 409);
  assert.equal(res.headers.get("upload-offset"), "0");
  assert.equal((await h.store.get(id))?.offset, 0);
});

Deno.test("PATCH answers 400 and writes nothing without Upload-Offset", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Content-Length": "3" },
    body: bytes(3),
  }));
  assertTusError(res, 400);
  assert.equal((await h.store.get(id))?.offset, 0);
});

Deno.test("PATCH answers 400 and writes nothing for a malformed Upload-Offset", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  for (const value of ["-1", "+0", "1e3", "9007199254740993", "0, 0", " ", "0x0", "zero"]) {
    const res = await h.send(patchRequest(id, value, bytes(3)));
    assertTusError(res, 400, `Upload-Offset ${JSON.stringify(value)}`);
  }
  assert.equal((await h.store.get(id))?.offset, 0);
});

Deno.test("PATCH answers 400 and writes nothing for a malformed Upload-Length", async () => {
  const h = harness();
  const id = await createUpload(h);
  for (const value of ["-1", "+5", "1e3", "9007199254740993", "5, 5", " "]) {
    const res = await h.send(patchRequest(id, 0, bytes(3), { "Upload-Length": value }));
    assertTusError(res, 400, `Upload-Length ${JSON.stringify(value)}`);
  }
  assert.deepEqual(await stored(h.store, id), {
    offset: 0,
    length: undefined,
    data: new Uint8Array(),
  });
});

Deno.test("PATCH answers 413 and stores nothing past Upload-Length when Content-Length is too big", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 5 });
  const sent = bytes(8);
  const res = await h.send(patchRequest(id, 0, sent));
  assertTusError(res, 413);
  const info = await stored(h.store, id);
  assert.ok(info);
  assertPrefixWithin(info.data, sent, 5, res.headers.get("upload-offset"));
});

Deno.test("PATCH answers 413 and stores nothing past Upload-Length when a streamed body runs over", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 5 });
  const { body, reply } = streamPatch(h, id);
  const sent = bytes(8);
  body.push(sent.subarray(0, 3));
  body.push(sent.subarray(3));
  const res = await reply;
  body.close();
  assertTusError(res, 413);
  const info = await stored(h.store, id);
  assert.ok(info);
  assertPrefixWithin(info.data, sent, 5, res.headers.get("upload-offset"));
  assert.equal(info.length, 5);
});

Deno.test("PATCH answers 413 and stores nothing when the upload is already complete", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 3, data: bytes(3) });
  assertTusError(await h.send(patchRequest(id, 3, bytes(1, 3))), 413, "with Content-Length");
  const { body, reply } = streamPatch(h, id, { offset: 3 });
  body.push(bytes(2, 3));
  const res = await reply;
  body.close();
  assertTusError(res, 413, "streamed");
  assert.deepEqual(await stored(h.store, id), { offset: 3, length: 3, data: bytes(3) });
});

Deno.test("PATCH with an empty body to a complete upload answers 204 with the same offset", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 3, data: bytes(3) });
  const res = await h.send(patchRequest(id, 3, new Uint8Array()));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "3");
});

Deno.test("PATCH declares a deferred length once with Upload-Length", async () => {
  const h = harness();
  const id = await createUpload(h);
  const res = await h.send(patchRequest(id, 0, bytes(4), { "Upload-Length": "10" }));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), "4");
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.headers.get("upload-length"), "10");
  assert.equal(head.headers.get("upload-defer-length"), null);
  // Repeating the same length is harmless.
  const again = await h.send(patchRequest(id, 4, bytes(2, 4), { "Upload-Length": "10" }));
  assert.equal(again.status, 204);
  assert.equal(again.headers.get("upload-offset"), "6");
});

Deno.test("PATCH answers 400 and writes nothing when Upload-Length changes a declared length", async () => {
  const h = harness();
  const id = await createUpload(h);
  assert.equal(
    (await h.send(patchRequest(id, 0, bytes(4), { "Upload-Length": "10" }))).status,
    204,
  );
  const res = await h.send(patchRequest(id, 4, bytes(2, 4), { "Upload-Length": "12" }));
  assertTusError(res, 400);
  assert.deepEqual(await stored(h.store, id), { offset: 4, length: 10, data: bytes(4) });
  // Also for a length fixed at creation.
  const fixed = await createUpload(h, { length: 5 });
  assertTusError(await h.send(patchRequest(fixed, 0, bytes(1), { "Upload-Length": "6" })), 400);
  assert.deepEqual(await stored(h.store, fixed), { offset: 0, length: 5, data: new Uint8Array() });
});

Deno.test("PATCH answers 400 and writes nothing when a declared length is below the stored offset", async () => {
  const h = harness();
  const id = await createUpload(h);
  assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
  const res = await h.send(patchRequest(id, 4, bytes(1, 4), { "Upload-Length": "3" }));
  assertTusError(res, 400);
  assert.deepEqual(await stored(h.store, id), { offset: 4, length: undefined, data: bytes(4) });
});

Deno.test("PATCH answers 413 and writes nothing when a declared length exceeds the maximum size", async () => {
  const h = harness({ config: { maxSize: 100 } });
  const id = await createUpload(h);
  const res = await h.send(patchRequest(id, 0, bytes(4), { "Upload-Length": "101" }));
  assertTusError(res, 413);
  assert.deepEqual(await stored(h.store, id), {
    offset: 0,
    length: undefined,
    data: new Uint8Array(),
  });
});

Deno.test("PATCH answers 413 when a deferred-length upload grows past the maximum size", async () => {
  const h = harness({ config: { maxSize: 10 } });
  const id = await createUpload(h);
  assert.equal((await h.send(patchRequest(id, 0, bytes(6)))).status, 204);
  const sent = bytes(6, 6);
  const res = await h.send(patchRequest(id, 6, sent));
  assertTusError(res, 413, "with Content-Length");
  let info = await stored(h.store, id);
  assert.ok(info);
  assertPrefixWithin(info.data.subarray(6), sent, 4, null);

  const id2 = await createUpload(h);
  const { body, reply } = streamPatch(h, id2);
  const all = bytes(12);
  body.push(all.subarray(0, 6));
  body.push(all.subarray(6));
  const res2 = await reply;
  body.close();
  assertTusError(res2, 413, "streamed");
  info = await stored(h.store, id2);
  assert.ok(info);
  assertPrefixWithin(info.data, all, 10, res2.headers.get("upload-offset"));
});
