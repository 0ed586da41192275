import assert from "node:assert/strict";
import {
  b64,
  bytes,
  createUpload,
  harness,
  patchRequest,
  request,
  T0,
  TUS,
} from "./test_harness.ts";

const META = `filename ${b64("report.pdf")},filetype ${b64("application/pdf")},is_confidential`;

Deno.test("HEAD answers 200 with Upload-Offset 0, Upload-Length, Cache-Control: no-store and no body", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.ok(res.noBody);
  assert.equal(res.headers.get("upload-offset"), "0");
  assert.equal(res.headers.get("upload-length"), "10");
  assert.equal(res.headers.get("upload-defer-length"), null);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("upload-metadata"), null, "no metadata was sent");
});

Deno.test("HEAD answers the committed offset after a PATCH", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(6)))).status, 204);
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("upload-offset"), "6");
  assert.equal(res.headers.get("upload-length"), "10");
});

Deno.test("HEAD answers Upload-Defer-Length: 1 and no Upload-Length while the length is deferred", async () => {
  const h = harness();
  const id = await createUpload(h);
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("upload-offset"), "0");
  assert.equal(res.headers.get("upload-defer-length"), "1");
  assert.equal(res.headers.get("upload-length"), null);
});

Deno.test("HEAD echoes Upload-Metadata exactly as it was sent at creation", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10, metadata: META });
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("upload-metadata"), META);
  const spaced = `filename ${b64("a.txt")}, flag`;
  const other = await createUpload(h, { length: 1, metadata: spaced });
  const again = await h.send(request("HEAD", `/files/${other}`, { headers: { ...TUS } }));
  assert.equal(again.headers.get("upload-metadata"), spaced, "not rewritten into another form");
});

Deno.test("HEAD answers the same in the plain dialect (offset is the server's truth)", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  await h.send(patchRequest(id, 0, bytes(3)));
  const res = await h.send(request("HEAD", `/files/${id}`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("upload-offset"), "3");
  assert.equal(res.headers.get("cache-control"), "no-store");
});

Deno.test("HEAD answers 404 with no Upload-Offset and no body for an unknown upload", async () => {
  const h = harness();
  for (const headers of [{ ...TUS }, {}]) {
    const res = await h.send(request("HEAD", `/files/${"ab".repeat(16)}`, { headers }));
    assert.equal(res.status, 404);
    assert.ok(res.noBody);
    assert.equal(res.headers.get("upload-offset"), null);
  }
});

Deno.test("HEAD answers Upload-Expires while the upload is unfinished", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 10 });
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("upload-expires"), new Date(T0 + 60_000).toUTCString());
});

Deno.test("HEAD answers 410 with no Upload-Offset and no body once the upload has expired", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 10 });
  h.clock.advance(59_999);
  const before = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(before.status, 200);
  h.clock.advance(2);
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 410);
  assert.ok(res.noBody);
  assert.equal(res.headers.get("upload-offset"), null);
});

Deno.test("HEAD on a complete upload answers 200 and no Upload-Expires, however old it is", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 3, data: bytes(3) });
  h.clock.advance(10 * 60_000);
  const res = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("upload-offset"), "3");
  assert.equal(res.headers.get("upload-length"), "3");
  assert.equal(res.headers.get("upload-expires"), null);
});
