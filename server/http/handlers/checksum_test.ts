import assert from "node:assert/strict";
import { checksumOf } from "../../../lib/checksum.ts";
import {
  bytes,
  createUpload,
  harness,
  ids,
  OCTET,
  patchRequest,
  request,
  stored,
  TUS,
} from "./test_harness.ts";

for (const algorithm of ["sha1", "md5", "sha256"] as const) {
  Deno.test(`PATCH with a matching ${algorithm} Upload-Checksum stores the chunk`, async () => {
    const h = harness();
    const id = await createUpload(h, { length: 100 });
    const data = bytes(60);
    const res = await h.send(
      patchRequest(id, 0, data, { "Upload-Checksum": checksumOf(algorithm, data) }),
    );
    assert.equal(res.status, 204, res.text);
    assert.equal(res.headers.get("upload-offset"), "60");
    assert.deepEqual((await stored(h.store, id))?.data, data);
  });
}

Deno.test("PATCH answers 460 and discards the chunk when the checksum does not match", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 100 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(10)))).status, 204);
  const res = await h.send(
    patchRequest(id, 10, bytes(50, 10), { "Upload-Checksum": checksumOf("sha1", bytes(50, 99)) }),
  );
  assert.equal(res.status, 460);
  assert.equal(res.headers.get("upload-offset"), "10");
  assert.match(res.text, /discarded/);
  const after = await stored(h.store, id);
  assert.equal(after?.offset, 10, "offset exactly as before the request");
  assert.deepEqual(after?.data, bytes(10));
});

Deno.test("PATCH answers 400 for an unknown or malformed checksum, before reading the body", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 100 });
  for (const value of ["crc32 AAAAAA==", "sha1 !!!", "sha1", "sha1 A"]) {
    const res = await h.send(patchRequest(id, 0, bytes(5), { "Upload-Checksum": value }));
    assert.equal(res.status, 400, value);
  }
  assert.equal((await stored(h.store, id))?.offset, 0);
});

Deno.test("PATCH answers 460 for a well-formed digest of the wrong length, storing nothing", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 100 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(10)))).status, 204);
  const data = bytes(20, 10);
  // A sha1 digest (20 bytes) announced as md5 (16), and a sha256 digest cut short.
  const sha256 = checksumOf("sha256", data).split(" ")[1]!;
  const wrong = [`md5 ${checksumOf("sha1", data).split(" ")[1]}`, `sha256 ${sha256.slice(0, 40)}`];
  for (const value of wrong) {
    const res = await h.send(patchRequest(id, 10, data, { "Upload-Checksum": value }));
    assert.equal(res.status, 460, `${value}: ${res.text}`);
    assert.equal(res.headers.get("upload-offset"), "10", value);
  }
  const after = await stored(h.store, id);
  assert.equal(after?.offset, 10, "offset exactly as before the requests");
  assert.deepEqual(after?.data, bytes(10));
});

Deno.test("POST with data and a mismatched checksum answers 460 and leaves no upload", async () => {
  const h = harness();
  const data = bytes(20);
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "20",
      "Content-Length": "20",
      "Content-Type": OCTET,
      "Upload-Checksum": checksumOf("md5", bytes(20, 5)),
    },
    body: data,
  }));
  assert.equal(res.status, 460);
  assert.deepEqual(await ids(h.store), [], "the refused creation left nothing");
  const ok = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "20",
      "Content-Length": "20",
      "Content-Type": OCTET,
      "Upload-Checksum": checksumOf("md5", data),
    },
    body: data,
  }));
  assert.equal(ok.status, 201);
  assert.equal(ok.headers.get("upload-offset"), "20");
});

Deno.test("OPTIONS lists checksum and its algorithms, sha1 among them", async () => {
  const h = harness();
  const res = await h.send(request("OPTIONS", "/files"));
  assert.match(res.headers.get("tus-extension") ?? "", /(^|,)checksum(,|$)/);
  assert.deepEqual(res.headers.get("tus-checksum-algorithm")?.split(","), [
    "sha1",
    "md5",
    "sha256",
  ]);
});
