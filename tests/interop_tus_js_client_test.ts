/**
 * Interop: `npm:tus-js-client` (its Node build, run inside this Deno test process) against our
 * server as a child process, in each dialect and request shape it speaks: default options, fixed
 * chunks, the IETF drafts and the method override. Every test ends with the MD5 of the bytes the
 * server stored equal to the source's: the data file `<dir>/<id[0:2]>/<id[2:4]>/<id>`, and the
 * bytes a GET returns.
 *
 * Traffic is observed with tus-js-client's own hooks (`onBeforeRequest`, `onAfterResponse`) or,
 * where body sizes matter, through the recording proxy (tests/helpers/http_recorder.ts).
 */

import assert from "node:assert/strict";
import { HttpRecorder } from "./helpers/http_recorder.ts";
import { startServer } from "./helpers/server.ts";
import {
  assertDownload,
  assertStored,
  contiguous,
  type Exchange,
  idOf,
  logExchanges,
  md5Of,
  MiB,
  sourceOf,
  tusHead,
  uploadFile,
} from "./helpers/tus_js_client.ts";
import { md5 } from "./helpers/uploads.ts";

Deno.test("tus-js-client, default options: one POST, one PATCH of the whole file, MD5 right", async () => {
  await using server = await startServer();
  const source = sourceOf(6 * MiB + 333, 101);
  const { log, hooks } = logExchanges();

  const url = await uploadFile(source, {
    endpoint: server.url,
    metadata: { filename: "default.bin", filetype: "application/octet-stream" },
    ...hooks,
  });

  assert.deepEqual(log.map((e) => e.method), ["POST", "PATCH"]);
  const [post, patch] = log as [Exchange, Exchange];
  assert.equal(post.status, 201);
  assert.equal(post.request["Tus-Resumable"], "1.0.0");
  assert.equal(post.request["Upload-Length"], String(source.length));
  assert.equal(patch.request["Upload-Offset"], "0");
  assert.equal(patch.status, 204);
  assert.equal(patch.response["Upload-Offset"], String(source.length));
  assert.equal(
    md5Of(patch.response["Repr-Digest"]),
    md5(source),
    "the completing PATCH reports the MD5 of the whole upload in Repr-Digest",
  );
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});

Deno.test("tus-js-client with chunkSize 1 MiB: every PATCH carries 1 MiB (the last the rest), MD5 right", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  const size = 5 * MiB + 12_345;
  const source = sourceOf(size, 102);

  const url = await uploadFile(source, { endpoint: recorder.url("/files"), chunkSize: MiB });
  await recorder.settled();

  const patches = recorder.byMethod("PATCH");
  assert.equal(patches.length, 6, "5 full chunks and a short one");
  contiguous(patches, 0);
  patches.forEach((p, i) => {
    const expected = i < 5 ? MiB : 12_345;
    assert.equal(p.contentLength, expected, `Content-Length of PATCH ${i}`);
    assert.equal(p.bodyBytes, expected, `body bytes of PATCH ${i}`);
    assert.equal(p.headers.get("content-type"), "application/offset+octet-stream");
  });
  assert.equal(recorder.byMethod("POST").length, 1);
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});

Deno.test('tus-js-client with protocol "ietf-draft-05": the draft dialect completes the upload, MD5 right', async () => {
  await using server = await startServer();
  const size = 4 * MiB + 99;
  const source = sourceOf(size, 105);
  const { log, hooks } = logExchanges();

  const url = await uploadFile(source, {
    endpoint: server.url,
    protocol: "ietf-draft-05",
    chunkSize: 2 * MiB,
    ...hooks,
  });

  assert.ok(
    log.every((e) => e.request["Upload-Draft-Interop-Version"] === "6"),
    "every request spoke interop version 6",
  );
  assert.ok(log.every((e) => e.status !== undefined && e.status < 300), JSON.stringify(log));
  assert.deepEqual(log.map((e) => e.method), ["POST", "PATCH", "PATCH", "PATCH"]);

  // The draft's offset retrieval: the upload is complete, and says so.
  const res = await fetch(`${server.url}/${idOf(url)}`, {
    method: "HEAD",
    headers: { "Upload-Draft-Interop-Version": "6" },
  });
  await res.body?.cancel();
  assert.ok(res.status >= 200 && res.status < 300, `draft HEAD answered ${res.status}`);
  assert.equal(res.headers.get("upload-offset"), String(size));
  assert.equal(res.headers.get("upload-complete"), "?1", "Upload-Complete: ?1 once complete");
  // The same upload in the tus dialect: its length became known when the client said complete.
  const tus = await tusHead(server, url);
  assert.equal(tus.status, 200);
  assert.equal(tus.headers.get("upload-length"), String(size));
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});

Deno.test('tus-js-client with protocol "ietf-draft-03": interop version 5, appends without a media type, MD5 right', async () => {
  await using server = await startServer();
  const size = 3 * MiB + 17;
  const source = sourceOf(size, 107);
  const { log, hooks } = logExchanges();

  const url = await uploadFile(source, {
    endpoint: server.url,
    protocol: "ietf-draft-03",
    chunkSize: 2 * MiB,
    ...hooks,
  });

  assert.ok(
    log.every((e) => e.request["Upload-Draft-Interop-Version"] === "5"),
    "every request spoke interop version 5",
  );
  assert.deepEqual(log.map((e) => e.method), ["POST", "PATCH", "PATCH"]);
  const patches = log.filter((e) => e.method === "PATCH");
  assert.ok(patches.every((e) => e.request["Content-Type"] === undefined), "no partial-upload");
  // Version 5 (draft -03): "MUST acknowledge it by responding with the 201 (Created) status code".
  assert.deepEqual(patches.map((e) => e.status), [201, 201]);
  assert.deepEqual(patches.map((e) => e.response["Upload-Offset"]), [
    String(2 * MiB),
    String(size),
  ]);

  const res = await fetch(`${server.url}/${idOf(url)}`, {
    method: "HEAD",
    headers: { "Upload-Draft-Interop-Version": "5" },
  });
  await res.body?.cancel();
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("upload-offset"), String(size));
  assert.equal(res.headers.get("upload-complete"), "?1");
  assert.equal(res.headers.get("upload-limit"), null, "Upload-Limit came with version 6");
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});

Deno.test("tus-js-client with overridePatchMethod: POST + X-HTTP-Method-Override: PATCH, MD5 right", async () => {
  await using server = await startServer();
  const size = 5 * MiB + 1;
  const source = sourceOf(size, 106);
  const { log, hooks } = logExchanges();

  const url = await uploadFile(source, {
    endpoint: server.url,
    overridePatchMethod: true,
    chunkSize: 2 * MiB,
    ...hooks,
  });

  assert.equal(log.filter((e) => e.method === "PATCH").length, 0, "no real PATCH was sent");
  const overrides = log.filter((e) => e.request["X-HTTP-Method-Override"] === "PATCH");
  assert.equal(overrides.length, 3, "three chunks, each a POST overridden to PATCH");
  let at = 0;
  for (const e of overrides) {
    assert.equal(e.method, "POST");
    assert.equal(e.request["Upload-Offset"], String(at));
    assert.equal(e.status, 204, "an overridden POST is answered like a PATCH");
    at = Math.min(at + 2 * MiB, size);
    assert.equal(e.response["Upload-Offset"], String(at));
  }
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});
