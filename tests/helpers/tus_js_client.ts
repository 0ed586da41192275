/**
 * Driving `npm:tus-js-client` (its Node build) against our server in the interop tests: uploads
 * with a deadline, a log of its requests from its own hooks, an in-memory URL storage, and
 * assertions on the bytes the server stored.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as tus from "tus-js-client";
import type { HttpRecorder, RecordedRequest, RecorderOptions } from "./http_recorder.ts";
import type { TestServer } from "./server.ts";
import { md5, randomBytes } from "./uploads.ts";
import { withDeadline } from "./wait.ts";

export const MiB = 1024 * 1024;
export const UPLOAD_TIMEOUT_MS = 20_000;

/** tus-js-client 4.3 takes `protocol`, which its type definitions leave out. */
export type Options = tus.UploadOptions & {
  protocol?: "tus-v1" | "ietf-draft-03" | "ietf-draft-05";
};

/** One request tus-js-client made, as its hooks saw it. */
export interface Exchange {
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
export function logExchanges(): { log: Exchange[]; hooks: Partial<Options> } {
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
export class MemoryUrlStorage implements tus.UrlStorage {
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
export function sourceOf(size: number, seed: number): Buffer {
  const bytes = randomBytes(size, seed);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Starts `upload` and resolves with its URL on success; rejects on error or after the deadline,
 * aborting the upload either way so nothing keeps running.
 */
export async function run(upload: tus.Upload, done: Promise<void>): Promise<string> {
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
export function newUpload(
  file: Buffer,
  options: Options,
): { upload: tus.Upload; done: Promise<void> } {
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
export function uploadFile(file: Buffer, options: Options): Promise<string> {
  const { upload, done } = newUpload(file, options);
  return run(upload, done);
}

export function idOf(url: string): string {
  return new URL(url).pathname.split("/").pop()!;
}

/** Asserts the server's data file for the upload at `url` holds exactly `source`. */
export async function assertStored(server: TestServer, url: string, source: Buffer): Promise<void> {
  const id = idOf(url);
  assert.match(id, /^[0-9a-f]{32}$/, `upload URL ${url} should end in one of our ids`);
  const stored = await Deno.readFile(server.dataPath(id));
  assert.equal(stored.length, source.length, "size of the stored bytes");
  assert.equal(md5(stored), md5(source), "MD5 of the stored bytes");
}

/** GETs a completed upload from the server and asserts its bytes are `source`. */
export async function assertDownload(
  server: TestServer,
  url: string,
  source: Buffer,
): Promise<void> {
  const res = await fetch(`${server.url}/${idOf(url)}`);
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, `GET of the completed upload: ${new TextDecoder().decode(body)}`);
  assert.equal(md5(body), md5(source), "MD5 of the bytes a GET returns");
}

/** HEAD in the tus dialect: status and the headers. */
export async function tusHead(server: TestServer, url: string, extra: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/${idOf(url)}`, {
    method: "HEAD",
    headers: { "Tus-Resumable": "1.0.0", ...extra },
  });
  await res.body?.cancel();
  return res;
}

export function md5Of(reprDigest: string | undefined): string | undefined {
  const m = /md5=:([A-Za-z0-9+/=]+):/.exec(reprDigest ?? "");
  return m ? Buffer.from(m[1]!, "base64").toString("hex") : undefined;
}

/** Marks which leg of an abort-then-resume test a request belongs to. */
export const LEG = "X-Test-Leg";

/**
 * For abort-then-resume tests: requests carry `X-Test-Leg: 1` or `2` (tus-js-client's `headers`
 * option). tus-js-client can still send one request of an aborted upload: one whose chunk was
 * being sliced when `abort()` ran has no socket to abort yet and goes out afterwards. Once the
 * first leg is over, the recorder answers such stragglers 503 itself, so they never reach the
 * server and can't race the second leg.
 */
export function legGuard(
  firstLegOver: () => boolean,
): NonNullable<RecorderOptions["beforeForward"]> {
  return (r) =>
    firstLegOver() && r.headers.get(LEG) === "1"
      ? new Response("test: the first leg is over\n", { status: 503 })
      : undefined;
}

/** The recorded requests of one leg with `method` that reached the server. */
export function ofLeg(recorder: HttpRecorder, leg: 1 | 2, method: string): RecordedRequest[] {
  return recorder.byMethod(method).filter((r) =>
    r.headers.get(LEG) === String(leg) && !(leg === 1 && r.status === 503)
  );
}

export function sumBytes(requests: RecordedRequest[]): number {
  return requests.reduce((sum, r) => sum + r.bodyBytes, 0);
}

export function contiguous(patches: RecordedRequest[], from: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    assert.equal(p.status, 204, `PATCH #${p.index} answered ${p.status}`);
    assert.equal(p.bodyBytes, p.contentLength, `PATCH #${p.index}: body vs Content-Length`);
    at += p.bodyBytes;
  }
}
