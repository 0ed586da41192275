/**
 * Interop: `npm:tus-js-client` (its Node build, run inside this Deno test process) against our
 * server as a child process: resuming an aborted upload from its stored URL, and parallel uploads
 * (partial uploads and their concatenation), aborted and resumed too. Every test ends with the MD5
 * of the bytes the server stored equal to the source's: the data file
 * `<dir>/<id[0:2]>/<id[2:4]>/<id>`, and the bytes a GET returns.
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
  LEG,
  legGuard,
  logExchanges,
  MemoryUrlStorage,
  MiB,
  newUpload,
  ofLeg,
  type Options,
  run,
  sourceOf,
  sumBytes,
  tusHead,
  UPLOAD_TIMEOUT_MS,
  uploadFile,
} from "./helpers/tus_js_client.ts";
import { withDeadline } from "./helpers/wait.ts";

Deno.test("tus-js-client aborted mid-way, then resumed by a new Upload via findPreviousUploads: the second leg sends only the rest", async () => {
  await using server = await startServer();
  let firstLegOver = false;
  await using recorder = HttpRecorder.start({
    target: server.origin,
    beforeForward: legGuard(() => firstLegOver),
  });
  const size = 8 * MiB;
  const source = sourceOf(size, 103);
  const urlStorage = new MemoryUrlStorage();
  const common: Options = { endpoint: recorder.url("/files"), chunkSize: MiB, urlStorage };

  // First leg: abort once more than 3 MiB went out, so 3 chunks were acknowledged and the fourth
  // was on its way (how much of it reached the server depends on timing: anything from none).
  const aborted = Promise.withResolvers<void>();
  const first = newUpload(source, {
    ...common,
    headers: { [LEG]: "1" },
    onProgress: (sent) => {
      if (sent <= 3 * MiB || firstLegOver) return;
      firstLegOver = true;
      first.upload.abort().then(() => aborted.resolve(), aborted.reject);
    },
  });
  first.upload.start();
  await withDeadline(
    Promise.race([aborted.promise, first.done.then(() => assert.fail("finished before abort"))]),
    UPLOAD_TIMEOUT_MS,
    "the first leg to pass 3 MiB and be aborted",
  );
  await recorder.settled();
  const firstUrl = first.upload.url;
  assert.ok(firstUrl, "the first leg created an upload");
  assert.equal(urlStorage.size, 1, "the upload URL was stored for resuming");
  const firstLeg = sumBytes(ofLeg(recorder, 1, "PATCH"));
  assert.ok(firstLeg >= 3 * MiB && firstLeg < size, `first leg sent ${firstLeg} bytes`);

  // Second leg: a new Upload object finds the stored URL and resumes it.
  const second = newUpload(source, { ...common, headers: { [LEG]: "2" } });
  const previous = await second.upload.findPreviousUploads();
  assert.equal(previous.length, 1, "findPreviousUploads finds the aborted upload");
  assert.equal(previous[0]!.uploadUrl, firstUrl);
  second.upload.resumeFromPreviousUpload(previous[0]!);
  const url = await run(second.upload, second.done);
  await recorder.settled();

  assert.equal(url, firstUrl, "the same upload was finished");
  assert.equal(ofLeg(recorder, 2, "POST").length, 0, "no new upload was created");
  const heads = ofLeg(recorder, 2, "HEAD");
  assert.equal(heads.length, 1, "one HEAD to learn the offset");
  const resumedAt = Number(heads[0]!.responseHeaders?.get("upload-offset"));
  assert.ok(resumedAt >= 3 * MiB, `the server kept at least 3 MiB, reports ${resumedAt}`);
  const patches = ofLeg(recorder, 2, "PATCH");
  contiguous(patches, resumedAt);
  const secondLeg = sumBytes(patches);
  assert.equal(secondLeg, size - resumedAt, "the second leg sends exactly what the server lacked");
  assert.ok(secondLeg < size, `the second leg sent ${secondLeg} < ${size} bytes`);
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});

Deno.test("tus-js-client with parallelUploads 3: three partial uploads and a final concatenation, MD5 right", async () => {
  await using server = await startServer();
  const size = 6 * MiB + 7;
  const source = sourceOf(size, 104);
  const { log, hooks } = logExchanges();

  const url = await uploadFile(source, {
    endpoint: server.url,
    parallelUploads: 3,
    metadata: { filename: "parallel.bin" },
    ...hooks,
  });

  const posts = log.filter((e) => e.method === "POST");
  const partials = posts.filter((e) => e.request["Upload-Concat"] === "partial");
  assert.equal(partials.length, 3, "three partial uploads were created");
  assert.ok(partials.every((e) => e.status === 201), "each partial creation answered 201");
  const finals = posts.filter((e) => e.request["Upload-Concat"]?.startsWith("final;"));
  assert.equal(finals.length, 1, "one final upload");
  assert.equal(finals[0]!.status, 201, "the final creation answered 201");
  const partialUrls = partials.map((e) => new URL(e.response["Location"]!, server.url).href);
  assert.deepEqual(
    finals[0]!.request["Upload-Concat"]!.slice("final;".length).split(" ").sort(),
    partialUrls.sort(),
  );

  const head = await tusHead(server, url);
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("upload-length"), String(size), "final length = sum of parts");
  assert.equal(head.headers.get("upload-offset"), String(size), "the final upload is complete");
  assert.match(head.headers.get("upload-concat") ?? "", /^final;/);
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});

Deno.test("tus-js-client with parallelUploads 3, aborted mid-way and resumed from its stored partial uploads: only the rest is sent", async () => {
  await using server = await startServer();
  let firstLegOver = false;
  await using recorder = HttpRecorder.start({
    target: server.origin,
    beforeForward: legGuard(() => firstLegOver),
  });
  const size = 9 * MiB + 3;
  const source = sourceOf(size, 107);
  const urlStorage = new MemoryUrlStorage();
  const common: Options = {
    endpoint: recorder.url("/files"),
    parallelUploads: 3,
    chunkSize: MiB,
    urlStorage,
  };

  // First leg: abort once a third of the file was acknowledged across the parts.
  const aborted = Promise.withResolvers<void>();
  let acknowledged = 0;
  const first = newUpload(source, {
    ...common,
    headers: { [LEG]: "1" },
    onChunkComplete: (chunk) => {
      acknowledged += chunk;
      if (acknowledged < size / 3 || firstLegOver) return;
      firstLegOver = true;
      first.upload.abort().then(() => aborted.resolve(), aborted.reject);
    },
  });
  first.upload.start();
  await withDeadline(
    Promise.race([aborted.promise, first.done.then(() => assert.fail("finished before abort"))]),
    UPLOAD_TIMEOUT_MS,
    "the first leg to pass a third and be aborted",
  );
  await recorder.settled();
  const partialPosts = ofLeg(recorder, 1, "POST");
  assert.equal(partialPosts.length, 3, "three partial uploads were created");
  assert.ok(partialPosts.every((r) => r.headers.get("upload-concat") === "partial"));
  assert.equal(urlStorage.size, 1, "the partial uploads were stored for resuming");
  const firstLeg = sumBytes(ofLeg(recorder, 1, "PATCH"));
  assert.ok(firstLeg < size, `first leg sent ${firstLeg} bytes`);

  // Second leg: a new Upload finds the three partial URLs, resumes each, then makes the final.
  const second = newUpload(source, { ...common, headers: { [LEG]: "2" } });
  const previous = await second.upload.findPreviousUploads();
  assert.equal(previous.length, 1);
  assert.equal(previous[0]!.parallelUploadUrls?.length, 3, "the stored entry has three parts");
  second.upload.resumeFromPreviousUpload(previous[0]!);
  const url = await run(second.upload, second.done);
  await recorder.settled();

  const posts = ofLeg(recorder, 2, "POST");
  assert.equal(posts.length, 1, "only the final upload was created");
  assert.match(posts[0]!.headers.get("upload-concat") ?? "", /^final;/);
  const heads = ofLeg(recorder, 2, "HEAD");
  assert.equal(heads.length, 3, "each part's offset was asked for");
  const kept = heads.reduce((sum, h) => sum + Number(h.responseHeaders?.get("upload-offset")), 0);
  assert.ok(kept >= size / 3, `the server kept at least a third, reports ${kept}`);
  const secondLeg = sumBytes(ofLeg(recorder, 2, "PATCH"));
  assert.equal(secondLeg, size - kept, "the second leg sends exactly what the parts lacked");
  await assertStored(server, url, source);
  await assertDownload(server, url, source);
});
