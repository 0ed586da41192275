import assert from "node:assert/strict";
import {
  assertPlainError,
  assertTusError,
  bytes,
  createUpload,
  harness,
  patchRequest,
  request,
  TUS,
} from "./test_harness.ts";

Deno.test("DELETE answers 204 and the upload is gone: HEAD then answers 410", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
  const res = await h.send(request("DELETE", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 204);
  assert.ok(res.noBody);
  const tomb = await h.store.get(id);
  assert.equal(tomb?.ended?.state, "terminated", "a tombstone is left");
  assert.equal(tomb?.offset, 0, "the bytes are gone");
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 410);
  assert.equal(head.headers.get("upload-offset"), null);
  assertTusError(await h.send(patchRequest(id, 4, bytes(1))), 410);
  assertTusError(await h.send(request("GET", `/files/${id}`, { headers: { ...TUS } })), 410);
  assertTusError(await h.send(request("DELETE", `/files/${id}`, { headers: { ...TUS } })), 404);
});

Deno.test("DELETE answers 404 for an unknown upload", async () => {
  const h = harness();
  assertTusError(
    await h.send(request("DELETE", `/files/${"cd".repeat(16)}`, { headers: { ...TUS } })),
    404,
  );
  assertPlainError(await h.send(request("DELETE", `/files/${"cd".repeat(16)}`)), 404);
});

Deno.test("DELETE answers 404 the second time", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  assert.equal(
    (await h.send(request("DELETE", `/files/${id}`, { headers: { ...TUS } }))).status,
    204,
  );
  assertTusError(await h.send(request("DELETE", `/files/${id}`, { headers: { ...TUS } })), 404);
});

Deno.test("DELETE leaves other uploads alone", async () => {
  const h = harness();
  const keep = await createUpload(h, { length: 3, data: bytes(3) });
  const drop = await createUpload(h, { length: 3 });
  assert.equal((await h.send(request("DELETE", `/files/${drop}`))).status, 204);
  const info = await h.store.get(keep);
  assert.equal(info?.offset, 3);
});
