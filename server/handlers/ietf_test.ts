import assert from "node:assert/strict";
import { DigestState, formatReprDigest } from "../../lib/digest.ts";
import { bytes, harness, idOf, request, stored } from "./test_harness.ts";

const DRAFT = { "Upload-Draft-Interop-Version": "6" } as const;
const PARTIAL = "application/partial-upload";

function append(id: string, offset: number, data: Uint8Array<ArrayBuffer>, complete: boolean) {
  return request("PATCH", `/files/${id}`, {
    headers: {
      ...DRAFT,
      "Content-Type": PARTIAL,
      "Content-Length": String(data.length),
      "Upload-Offset": String(offset),
      "Upload-Complete": complete ? "?1" : "?0",
    },
    body: data,
  });
}

Deno.test("IETF draft: create, HEAD, append and complete as tus-js-client's ietf-draft-05 does", async () => {
  const h = harness({ config: { maxSize: 1000 } });
  const created = await h.send(request("POST", "/files", {
    headers: { ...DRAFT, "Upload-Length": "100", "Upload-Complete": "?0" },
  }));
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers.get("upload-complete"), "?0");
  assert.equal(created.headers.get("upload-draft-interop-version"), "6");
  assert.equal(created.headers.get("upload-limit"), "max-size=1000");
  const id = idOf(created.headers.get("location"));

  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...DRAFT } }));
  assert.equal(head.status, 204);
  assert.equal(head.headers.get("upload-offset"), "0");
  assert.equal(head.headers.get("upload-complete"), "?0");
  assert.equal(head.headers.get("cache-control"), "no-store");

  const first = await h.send(append(id, 0, bytes(60), false));
  assert.equal(first.status, 204, first.text);
  assert.equal(first.headers.get("upload-offset"), "60");
  assert.equal(first.headers.get("upload-complete"), "?0");
  const last = await h.send(append(id, 60, bytes(40, 60), true));
  assert.equal(last.status, 204, last.text);
  assert.equal(last.headers.get("upload-complete"), "?1");
  const expected = new DigestState();
  expected.update(bytes(100));
  assert.equal(last.headers.get("repr-digest"), formatReprDigest(expected.digest()));
  assert.deepEqual((await stored(h.store, id))?.data, bytes(100));

  const again = await h.send(append(id, 100, bytes(1), true));
  assert.equal(again.status, 400);
  assert.equal(again.headers.get("content-type"), "application/problem+json");
  assert.match(JSON.parse(again.text).type, /completed-upload/);
});

Deno.test("IETF draft: a mismatched offset is a 409 problem document with both offsets", async () => {
  const h = harness();
  const created = await h.send(request("POST", "/files", {
    headers: { ...DRAFT, "Upload-Complete": "?0" },
  }));
  const id = idOf(created.headers.get("location"));
  await h.send(append(id, 0, bytes(10), false));
  const res = await h.send(append(id, 3, bytes(10), false));
  assert.equal(res.status, 409);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = JSON.parse(res.text);
  assert.equal(
    body.type,
    "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
  );
  assert.equal(body["expected-offset"], 10);
  assert.equal(body["provided-offset"], 3);
  assert.equal((await stored(h.store, id))?.offset, 10);
});

Deno.test("IETF draft: a creation with Upload-Complete: ?1 carries the whole upload", async () => {
  const h = harness();
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...DRAFT,
      "Upload-Complete": "?1",
      "Content-Type": "image/png",
      "Content-Length": "25",
    },
    body: bytes(25),
  }));
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers.get("upload-complete"), "?1");
  assert.equal(res.headers.get("upload-offset"), "25");
  const id = idOf(res.headers.get("location"));
  assert.equal((await stored(h.store, id))?.length, 25);
});

Deno.test("IETF draft: a deferred length is fixed by the append that completes the upload", async () => {
  const h = harness();
  const id = idOf((await h.send(request("POST", "/files", {
    headers: { ...DRAFT, "Upload-Complete": "?0" },
  }))).headers.get("location"));
  await h.send(append(id, 0, bytes(7), false));
  const last = await h.send(append(id, 7, bytes(5, 7), true));
  assert.equal(last.status, 204);
  assert.equal(last.headers.get("upload-complete"), "?1");
  assert.equal((await stored(h.store, id))?.length, 12);
});

Deno.test("IETF draft: bad requests get problem documents", async () => {
  const h = harness();
  const noComplete = await h.send(request("POST", "/files", { headers: { ...DRAFT } }));
  assert.equal(noComplete.status, 400);
  assert.equal(noComplete.headers.get("content-type"), "application/problem+json");
  const version = await h.send(request("POST", "/files", {
    headers: { "Upload-Draft-Interop-Version": "3", "Upload-Complete": "?0" },
  }));
  assert.equal(version.status, 400);
  const id = idOf((await h.send(request("POST", "/files", {
    headers: { ...DRAFT, "Upload-Complete": "?0", "Upload-Length": "10" },
  }))).headers.get("location"));
  const wrongType = await h.send(request("PATCH", `/files/${id}`, {
    headers: {
      ...DRAFT,
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": "0",
      "Upload-Complete": "?0",
    },
    body: bytes(3),
  }));
  assert.equal(wrongType.status, 415);
  const badBool = await h.send(request("PATCH", `/files/${id}`, {
    headers: { ...DRAFT, "Content-Type": PARTIAL, "Upload-Offset": "0", "Upload-Complete": "yes" },
    body: bytes(3),
  }));
  assert.equal(badBool.status, 400);
  const inconsistent = await h.send(append(id, 0, bytes(4), true));
  assert.equal(inconsistent.status, 400, "Upload-Complete: ?1 at 4 of 10 bytes");
  assert.match(JSON.parse(inconsistent.text).type, /inconsistent-upload-length/);
  const deleted = await h.send(request("DELETE", `/files/${id}`, { headers: { ...DRAFT } }));
  assert.equal(deleted.status, 204);
});
