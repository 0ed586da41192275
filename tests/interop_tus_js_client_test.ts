/**
 * Interop: `npm:tus-js-client` (its Node build, run inside this Deno test process) against our
 * server as a child process. Every test ends with the MD5 of the bytes the server stored equal to
 * the source's: the data file `<dir>/<id[0:2]>/<id[2:4]>/<id>`, and where the upload is complete,
 * the bytes a GET returns.
 *
 * Traffic is observed with tus-js-client's own hooks (`onBeforeRequest`, `onAfterResponse`) or,
 * where body sizes matter, through the recording proxy (tests/helpers/http_recorder.ts).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as tus from "tus-js-client";
import {
  HttpRecorder,
  type RecordedRequest,
  type RecorderOptions,
} from "./helpers/http_recorder.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { md5, randomBytes } from "./helpers/uploads.ts";
import { withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const UPLOAD_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------------------------
// Helpers

/** tus-js-client 4.3 takes `protocol`, which its type definitions leave out. */
type Options = tus.UploadOptions & { protocol?: "tus-v1" | "ietf-draft-03" | "ietf-draft-05" };

/** One request tus-js-client made, as its hooks saw it. */
interface Exchange {
  method: string;
  url: string;
  /** Request headers of interest, as tus-js-client set them. */
  request: Record<string, string | undefined>;
  status: number | undefined;
  /** Response headers of interest. */
  response: Record<string, string | undefined>;
}

const REQUEST_HEADERS = [
  "Tus-Resumable",
  "Upload-Offset",
  "Upload-Length",
  "Upload-Concat",
  "Upload-Complete",
  "Upload-Draft-Interop-Version",
  "X-HTTP-Method-Override",
  "Content-Type",
];
const RESPONSE_HEADERS = ["Location", "Upload-Offset", "Upload-Length", "Repr-Digest"];

/** Hooks that log every request tus-js-client makes and the answer it got. */
function logExchanges(): { log: Exchange[]; hooks: Partial<Options> } {
  const log: Exchange[] = [];
  const byRequest = new Map<tus.HttpRequest, Exchange>();
  return {
    log,
    hooks: {
      onBeforeRequest(req) {
        const exchange: Exchange = {
          method: req.getMethod(),
          url: req.getURL(),
          request: Object.fromEntries(REQUEST_HEADERS.map((h) => [h, req.getHeader(h)])),
          status: undefined,
          response: {},
        };
        log.push(exchange);
        byRequest.set(req, exchange);
      },
      onAfterResponse(req, res) {
        const exchange = byRequest.get(req);
        if (!exchange) return;
        exchange.status = res.getStatus();
        exchange.response = Object.fromEntries(RESPONSE_HEADERS.map((h) => [h, res.getHeader(h)]));
      },
    },
  };
}

/** A URL storage kept in memory (the Node build stores nothing by default). */
class MemoryUrlStorage implements tus.UrlStorage {
  readonly #entries = new Map<string, tus.PreviousUpload>();
  #next = 0;

  findAllUploads(): Promise<tus.PreviousUpload[]> {
    return Promise.resolve([...this.#entries.values()]);
  }

  findUploadsByFingerprint(fingerprint: string): Promise<tus.PreviousUpload[]> {
    const prefix = `tus::${fingerprint}::`;
    return Promise.resolve(
      [...this.#entries].filter(([key]) => key.startsWith(prefix)).map(([, upload]) => upload),
    );
  }

  removeUpload(urlStorageKey: string): Promise<void> {
    this.#entries.delete(urlStorageKey);
    return Promise.resolve();
  }

  addUpload(fingerprint: string, upload: tus.PreviousUpload): Promise<string> {
    const key = `tus::${fingerprint}::${this.#next++}`;
    this.#entries.set(key, { ...upload, urlStorageKey: key });
    return Promise.resolve(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** A Node Buffer of deterministic bytes (tus-js-client's Node build fingerprints Buffers). */
function sourceOf(size: number, seed: number): Buffer {
  const bytes = randomBytes(size, seed);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Starts `upload` and resolves with its URL on success; rejects on error or after the deadline,
 * aborting the upload either way so nothing keeps running.
 */
async function run(upload: tus.Upload, done: Promise<void>): Promise<string> {
  upload.start();
  try {
    await withDeadline(done, UPLOAD_TIMEOUT_MS, "tus-js-client to finish the upload");
  } catch (error) {
    // An error in one part of a parallel upload leaves the others running: stop them all.
    await upload.abort().catch(() => {});
    throw error;
  }
  assert.ok(upload.url, "tus-js-client finished without an upload URL");
  return upload.url;
}

/** A new tus.Upload whose success and error settle the returned promise. */
function newUpload(file: Buffer, options: Options): { upload: tus.Upload; done: Promise<void> } {
  const settled = Promise.withResolvers<void>();
  const upload = new tus.Upload(file, {
    retryDelays: null, // a failure fails the test instead of being retried silently
    ...options,
    onSuccess: () => settled.resolve(),
    onError: (error) => settled.reject(error),
  });
  return { upload, done: settled.promise };
}

/** Uploads `file` with `options` and resolves with the upload URL. */
function uploadFile(file: Buffer, options: Options): Promise<string> {
  const { upload, done } = newUpload(file, options);
  return run(upload, done);
}

function idOf(url: string): string {
  return new URL(url).pathname.split("/").pop()!;
}

/** Asserts the server's data file for the upload at `url` holds exactly `source`. */
async function assertStored(server: TestServer, url: string, source: Buffer): Promise<void> {
  const id = idOf(url);
  assert.match(id, /^[0-9a-f]{32}$/, `upload URL ${url} should end in one of our ids`);
  const stored = await Deno.readFile(server.dataPath(id));
  assert.equal(stored.length, source.length, "size of the stored bytes");
  assert.equal(md5(stored), md5(source), "MD5 of the stored bytes");
}

/** GETs a completed upload from the server and asserts its bytes are `source`. */
async function assertDownload(server: TestServer, url: string, source: Buffer): Promise<void> {
  const res = await fetch(`${server.url}/${idOf(url)}`);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, `GET of the completed upload: ${new TextDecoder().decode(body)}`);
  assert.equal(md5(body), md5(source), "MD5 of the bytes a GET returns");
}

/** HEAD in the tus dialect: status and the headers. */
async function tusHead(server: TestServer, url: string, extra: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/${idOf(url)}`, {
    method: "HEAD",
    headers: { "Tus-Resumable": "1.0.0", ...extra },
  });
  await res.body?.cancel();
  return res;
}

function md5Of(reprDigest: string | undefined): string | undefined {
  const m = /md5=:([A-Za-z0-9+/=]+):/.exec(reprDigest ?? "");
  return m ? Buffer.from(m[1]!, "base64").toString("hex") : undefined;
}

/** Marks which leg of an abort-then-resume test a request belongs to. */
const LEG = "X-Test-Leg";

/**
 * For abort-then-resume tests: requests carry `X-Test-Leg: 1` or `2` (tus-js-client's `headers`
 * option). tus-js-client can still send one request of an aborted upload: one whose chunk was
 * being sliced when `abort()` ran has no socket to abort yet and goes out afterwards. Once the
 * first leg is over, the recorder answers such stragglers 503 itself, so they never reach the
 * server and can't race the second leg.
 */
function legGuard(firstLegOver: () => boolean): NonNullable<RecorderOptions["beforeForward"]> {
  return (r) =>
    firstLegOver() && r.headers.get(LEG) === "1"
      ? new Response("test: the first leg is over\n", { status: 503 })
      : undefined;
}

/** The recorded requests of one leg with `method` that reached the server. */
function ofLeg(recorder: HttpRecorder, leg: 1 | 2, method: string): RecordedRequest[] {
  return recorder.byMethod(method).filter((r) =>
    r.headers.get(LEG) === String(leg) && !(leg === 1 && r.status === 503)
  );
}

function sumBytes(requests: RecordedRequest[]): number {
  return requests.reduce((sum, r) => sum + r.bodyBytes, 0);
}

function contiguous(patches: RecordedRequest[], from: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    assert.equal(p.status, 204, `PATCH #${p.index} answered ${p.status}`);
    assert.equal(p.bodyBytes, p.contentLength, `PATCH #${p.index}: body vs Content-Length`);
    at += p.bodyBytes;
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

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
