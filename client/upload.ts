/**
 * The upload core: create or resume, PATCH chunk by chunk from the server's offset, retry with
 * backoff, and verify the whole file against the server's digests. Uses only `fetch` and range
 * reads, so the same code runs in Deno and in a browser.
 */
import { base64ToHex, type Digests, DigestState, parseReprDigest } from "../lib/digest.ts";
import { UploadError } from "../lib/errors.ts";
import { encodeMetadata, type Metadata } from "../lib/metadata.ts";
import { H, OFFSET_CONTENT_TYPE, parseHeaderInteger, TUS_VERSION } from "../lib/protocol.ts";
import type { ResumeStore } from "./resume_store.ts";
import { backoffMs, classify, DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import type { UploadSource } from "./source.ts";

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
/** Chunks up to this size are read into memory and sent with a Content-Length; larger ones stream. */
const BUFFERED_CHUNK_MAX = 64 * 1024 * 1024;
/** Piece size for streamed chunks and for hashing a prefix. */
const PIECE = 1024 * 1024;

export type UploadEvent =
  | { type: "created"; url: string }
  | { type: "resumed"; url: string; offset: number }
  | { type: "restarted"; reason: string }
  | { type: "progress"; acknowledged: number; sent: number; total: number }
  | { type: "retry"; attempt: number; delayMs: number; reason: string }
  | {
    type: "completed";
    url: string;
    size: number;
    md5: string;
    sha256: string;
    verified: Verified;
  };

/** How the end result was checked: both digests, or only the size (server gave no digest). */
export type Verified = "digest" | "size";

export interface UploadOptions {
  endpoint: string;
  /** Bytes per PATCH; Infinity sends the rest of the file in one streamed PATCH. */
  chunkSize?: number;
  headers?: Record<string, string>;
  metadata?: Metadata;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** Remembers the upload URL so a later run (after a crash) resumes it. */
  resume?: { store: ResumeStore; fingerprint: string; path?: string };
  onEvent?: (event: UploadEvent) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface UploadResult {
  url: string;
  size: number;
  /** Local digests, hex. */
  md5: string;
  sha256: string;
  verified: Verified;
}

export function upload(source: UploadSource, options: UploadOptions): Promise<UploadResult> {
  return new Uploader(source, options).run();
}

interface ServerState {
  offset: number;
  length?: number;
  digests?: Partial<Digests>;
}

class Uploader {
  readonly #source: UploadSource;
  readonly #opts: UploadOptions;
  readonly #policy: RetryPolicy;
  readonly #chunk: number;
  readonly #fetch: typeof fetch;
  readonly #hash = new DigestState();
  #url: string | undefined;
  #offset = 0;
  #sent = 0;
  #serverDigests: Partial<Digests> | undefined;

  constructor(source: UploadSource, opts: UploadOptions) {
    this.#source = source;
    this.#opts = opts;
    this.#policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.#chunk = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!(this.#chunk > 0)) throw new RangeError("chunkSize must be positive");
    this.#fetch = opts.fetch ?? fetch;
  }

  #emit(event: UploadEvent): void {
    this.#opts.onEvent?.(event);
  }

  async run(): Promise<UploadResult> {
    const size = this.#source.size;
    const resume = this.#opts.resume;
    const previous = resume && await resume.store.get(resume.fingerprint);
    let needSync = false;
    if (previous && previous.size === size) {
      this.#url = previous.url;
      needSync = true;
    }
    let announced = false;
    let attempt = 0;
    for (;;) {
      try {
        this.#opts.signal?.throwIfAborted();
        if (this.#url === undefined) {
          await this.#create();
          announced = true;
          needSync = false;
        } else if (needSync) {
          const state = await this.#head();
          if (state.length !== undefined && state.length !== size) {
            throw new UploadError(
              410,
              "length-differs",
              "The remembered upload has another length",
            );
          }
          this.#offset = state.offset;
          this.#serverDigests = state.digests;
          needSync = false;
          if (!announced) this.#emit({ type: "resumed", url: this.#url, offset: state.offset });
          announced = true;
          this.#progress();
        }
        if (this.#offset >= size) {
          if (this.#serverDigests === undefined) {
            const state = await this.#head();
            this.#offset = state.offset;
            this.#serverDigests = state.digests ?? {};
            if (this.#offset < size) continue; // truncated behind our back: send the rest
          }
          break;
        }
        await this.#source.check?.();
        await this.#hashUpTo(this.#offset);
        const before = this.#offset;
        this.#offset = await this.#patch(before, Math.min(this.#chunk, size - before));
        if (this.#offset > before) attempt = 0;
        this.#progress();
      } catch (error) {
        if (this.#opts.signal?.aborted) {
          throw new UploadError(0, "aborted", "Upload aborted", { cause: error });
        }
        if (!(error instanceof UploadError)) throw error;
        if (error.code === "file-changed" || error.code === "usage") throw error;
        const verdict = classify(error.status === 0 ? undefined : error.status);
        if (verdict === "fatal") {
          throw new UploadError(error.status, "rejected", `Server refused: ${error.message}`);
        }
        attempt++;
        if (attempt > this.#policy.retries) {
          throw new UploadError(
            error.status,
            "gave-up",
            `Gave up after ${attempt} attempts without progress; last error: ${error.message}`,
          );
        }
        if (verdict === "restart") {
          this.#emit({ type: "restarted", reason: `${error.message}; starting a new upload` });
          this.#url = undefined;
          this.#offset = 0;
          this.#serverDigests = undefined;
          continue;
        }
        const delayMs = verdict === "resync" && attempt === 1
          ? 0
          : backoffMs(attempt - 1, this.#policy, error.headers["Retry-After"], this.#opts.random);
        this.#emit({ type: "retry", attempt, delayMs, reason: error.message });
        await (this.#opts.sleep ?? sleep)(delayMs, this.#opts.signal);
        needSync = true;
      }
    }

    await this.#source.check?.(); // a change while the last chunk was in flight
    await this.#hashUpTo(size);
    const local = this.#hash.digest();
    const server = this.#serverDigests ?? {};
    const mismatch = (["md5", "sha256"] as const).filter((k) =>
      server[k] !== undefined && server[k] !== local[k]
    );
    if (mismatch.length > 0) {
      const show = (d: Partial<Digests>) =>
        `md5 ${d.md5 ? base64ToHex(d.md5) : "?"}, sha256 ${d.sha256 ? base64ToHex(d.sha256) : "?"}`;
      throw new UploadError(
        0,
        "digest-mismatch",
        `Verification failed for ${this.#url}: local ${show(local)}; server ${show(server)}`,
      );
    }
    const verified: Verified = server.md5 !== undefined || server.sha256 !== undefined
      ? "digest"
      : "size";
    if (resume) await resume.store.delete(resume.fingerprint);
    const result: UploadResult = {
      url: this.#url!,
      size,
      md5: base64ToHex(local.md5),
      sha256: base64ToHex(local.sha256),
      verified,
    };
    this.#emit({ type: "completed", ...result });
    return result;
  }

  #progress(): void {
    this.#emit({
      type: "progress",
      acknowledged: this.#offset,
      sent: Math.max(this.#sent, this.#offset),
      total: this.#source.size,
    });
  }

  async #create(): Promise<void> {
    const { endpoint, metadata, resume } = this.#opts;
    const headers: Record<string, string> = { [H.uploadLength]: String(this.#source.size) };
    if (metadata && Object.keys(metadata).length > 0) {
      headers[H.uploadMetadata] = encodeMetadata(metadata);
    }
    const res = await this.#request("POST", endpoint, headers);
    const location = res.headers.get("location");
    if (res.status !== 201 || !location) {
      throw new UploadError(
        res.status,
        "bad-response",
        `POST answered ${res.status} without Location`,
      );
    }
    this.#url = new URL(location, endpoint).href;
    this.#offset = 0;
    this.#serverDigests = undefined;
    if (resume) {
      await resume.store.set(resume.fingerprint, {
        url: this.#url,
        endpoint,
        size: this.#source.size,
        createdAt: Date.now(),
        ...(resume.path === undefined ? {} : { path: resume.path }),
      });
    }
    this.#emit({ type: "created", url: this.#url });
  }

  async #head(): Promise<ServerState> {
    const res = await this.#request("HEAD", this.#url!, {});
    return serverState(res);
  }

  async #patch(offset: number, length: number): Promise<number> {
    let body: BodyInit;
    if (length <= BUFFERED_CHUNK_MAX) {
      const bytes = await this.#source.read(offset, length);
      this.#hashRange(offset, bytes);
      body = bytes as Uint8Array<ArrayBuffer>;
    } else {
      let at = offset;
      const end = offset + length;
      body = new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          if (at >= end) return controller.close();
          const piece = await this.#source.read(at, Math.min(PIECE, end - at));
          this.#hashRange(at, piece);
          at += piece.length;
          this.#sent = at;
          controller.enqueue(piece);
          this.#progress();
        },
      });
    }
    const res = await this.#request("PATCH", this.#url!, {
      [H.uploadOffset]: String(offset),
      "Content-Type": OFFSET_CONTENT_TYPE,
    }, body);
    if (res.status !== 204 && res.status !== 200) {
      throw new UploadError(res.status, "bad-response", `PATCH answered ${res.status}`);
    }
    const state = serverState(res);
    if (state.offset < offset) {
      throw new UploadError(409, "offset-went-back", `Server offset went back to ${state.offset}`);
    }
    if (length > 0 && state.offset === offset) {
      // Accepted but nothing stored (e.g. a proxy dropped the body): a failure, retried with backoff.
      throw new UploadError(0, "no-progress", `PATCH at ${offset} was accepted but stored nothing`);
    }
    if (state.digests) this.#serverDigests = state.digests;
    return state.offset;
  }

  /** Sends one request; a non-2xx answer or a network failure becomes an UploadError. */
  async #request(
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: BodyInit,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers: { ...this.#opts.headers, [H.tusResumable]: TUS_VERSION, ...headers },
        ...(body === undefined ? {} : { body }),
        ...(this.#opts.signal ? { signal: this.#opts.signal } : {}),
      });
    } catch (error) {
      throw new UploadError(0, "network", `${method} failed: ${errorText(error)}`, {
        cause: error,
      });
    }
    if (res.ok) {
      await res.body?.cancel();
      return res;
    }
    const text = method === "HEAD" ? "" : await res.text().catch(() => "");
    const retryAfter = res.headers.get("retry-after");
    throw new UploadError(res.status, "http", `${method} ${res.status}: ${serverMessage(text)}`, {
      headers: retryAfter ? { "Retry-After": retryAfter } : {},
    });
  }

  /** Feeds bytes at `position` to the running hash, skipping what it has already seen. */
  #hashRange(position: number, bytes: Uint8Array): void {
    const seen = this.#hash.length;
    if (position <= seen && seen < position + bytes.length) {
      this.#hash.update(bytes.subarray(seen - position));
    }
  }

  /** Hashes local bytes up to `offset` (a resumed prefix, or a gap another writer filled). */
  async #hashUpTo(offset: number): Promise<void> {
    while (this.#hash.length < offset) {
      const at = this.#hash.length;
      const piece = await this.#source.read(at, Math.min(PIECE * 8, offset - at));
      if (piece.length === 0) throw new UploadError(0, "file-changed", "The file got shorter");
      this.#hashRange(at, piece);
    }
  }
}

function serverState(res: Response): ServerState {
  const offset = res.headers.get(H.uploadOffset);
  if (offset === null) {
    throw new UploadError(res.status, "bad-response", `${res.status} without Upload-Offset`);
  }
  const length = res.headers.get(H.uploadLength);
  const digest = res.headers.get(H.reprDigest);
  const digests = digest ? parseReprDigest(digest) : undefined;
  return {
    offset: parseHeaderInteger(H.uploadOffset, offset),
    ...(length === null ? {} : { length: parseHeaderInteger(H.uploadLength, length) }),
    ...(digests ? { digests } : {}),
  };
}

/** The message of a plain-dialect JSON error, or the text as it came (shortened). */
function serverMessage(text: string): string {
  try {
    const message = JSON.parse(text)?.error?.message;
    if (typeof message === "string") return message;
  } catch { /* not JSON */ }
  return text.trim().slice(0, 500) || "(no message)";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
