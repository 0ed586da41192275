/**
 * The upload core: create or resume, PATCH chunk by chunk from the server's offset, retry with
 * backoff, optionally in N parallel parts (tus concatenation), and verify the whole file against
 * the server's digests. It runs unchanged in Deno and in a browser: it uses only `fetch`, range
 * reads and timers, and the hashing comes in as `options.hashing` (`client/upload.ts` gives
 * Deno's, node:crypto on a worker; the web page gives a Web Worker with a JS SHA-256 and MD5).
 */
import type { ChecksumAlgorithm } from "../../lib/checksum_header.ts";
import { base64ToHex, type Digests, parseReprDigest } from "../../lib/digest_header.ts";
import type { RunningDigest } from "../../lib/deno/digest_pool.ts";
import { UploadError } from "../../lib/errors.ts";
import { encodeMetadata, type Metadata } from "../../lib/metadata.ts";
import { H, parseHeaderInteger } from "../../lib/protocol.ts";
import type { InteropVersion } from "../../lib/ietf_versions.ts";
import { type Answer, type Deadlines, DEFAULT_DEADLINES } from "./deadline.ts";
import { aborted, discover, type Link, send, sleep, waitForContact } from "./link.ts";
import {
  type Dialect,
  dialectOf,
  fastestChecksum,
  noFeatures,
  type ProtocolName,
  type ServerFeatures,
} from "./protocol.ts";
import type { ResumeRecord, ResumeStore } from "./resume_store.ts";
import { backoffMs, classify, Contact, DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { rangeSource, type UploadSource } from "./source.ts";

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
/** Chunks up to this size are read into memory and sent with a Content-Length; larger ones stream. */
const BUFFERED_CHUNK_MAX = 16 * 1024 * 1024;
/** Piece size for streamed chunks and for hashing. */
const PIECE = 1024 * 1024;
/** Piece size in which a buffered chunk is streamed: small, so `sent` moves smoothly. */
const SEND_PIECE = 64 * 1024;
/** `sent` progress is reported at most this often while a body streams (acknowledgements always). */
const SENT_EVERY_MS = 100;

export type UploadEvent =
  | { type: "created"; url: string; part?: number }
  | { type: "resumed"; url: string; offset: number; part?: number }
  | { type: "restarted"; reason: string; part?: number }
  | {
    type: "progress";
    /** Bytes the server has confirmed holding. */
    acknowledged: number;
    /** Bytes handed to the network so far (≥ acknowledged): moves while a body is being sent. */
    sent: number;
    total: number;
  }
  | {
    type: "retry";
    attempt: number;
    delayMs: number;
    reason: string;
    /** The HTTP status that caused it; absent for a network failure. */
    status?: number;
    part?: number;
  }
  | { type: "notice"; message: string }
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

/** What the core needs from its runtime to hash: the one part that differs per platform. */
export interface Hashing {
  /** A running MD5 + SHA-256 of the whole upload (base64 digests), fed in order. */
  digest(): RunningDigest;
  /** The `Upload-Checksum` value of a chunk; without it no per-chunk checksum is sent. */
  checksum?(algorithm: ChecksumAlgorithm, bytes: Uint8Array): string;
}

export interface UploadOptions {
  endpoint: string;
  /** Bytes per PATCH; Infinity sends the rest in one streamed PATCH. */
  chunkSize?: number;
  headers?: Record<string, string>;
  metadata?: Metadata;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** Per-request deadlines (`client/core/deadline.ts`); expiry counts as a network failure. */
  deadlines?: Partial<Deadlines>;
  /** tus (default), the IETF draft, or the plain dialect. */
  protocol?: ProtocolName;
  /** The IETF draft's interop version (3 to 8; default the newest). */
  ietfVersion?: InteropVersion;
  /**
   * A fetch that reports 1xx responses. With it, an IETF-draft upload sends its first chunk in
   * the creation request and resumes from the URL of the server's 104 if that request is cut;
   * without it (a browser) the creation is empty and the URL comes with its final response.
   */
  informationalFetch?: InformationalFetch;
  /** Per-PATCH checksum: an algorithm, "none", or "auto" (the fastest the server offers). */
  checksum?: ChecksumAlgorithm | "none" | "auto";
  /**
   * Send every PATCH body as a stream and report `sent` progress as fetch consumes it. Off by
   * default: a browser can't stream a request body over HTTP/1.1 (`client/upload.ts` turns it on
   * in Deno). Chunks larger than 16 MiB are always streamed.
   */
  streamBody?: boolean;
  /** Upload in this many concurrent parts, then concatenate (needs tus concatenation). */
  parallel?: number;
  /** Remembers the upload so a later run (after a crash) resumes it. */
  resume?: { store: ResumeStore; fingerprint: string; path?: string };
  onEvent?: (event: UploadEvent) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** How to hash; required here, defaulted by `client/upload.ts` for Deno. */
  hashing?: Hashing;
}

/** Like `fetch` for a buffered body, plus a callback for each 1xx response before the final one. */
export type InformationalFetch = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: Uint8Array;
    signal?: AbortSignal;
  },
  onInformational: (status: number, headers: Headers) => void,
) => Promise<Response>;

export interface UploadResult {
  url: string;
  size: number;
  /** Local digests, hex. */
  md5: string;
  sha256: string;
  verified: Verified;
}

/** Uploads `source`; resolves once the server holds it and it is verified. */
export async function upload(
  source: UploadSource,
  options: UploadOptions & { hashing: Hashing },
): Promise<UploadResult> {
  const dialect = dialectOf(options.protocol ?? "tus", options.ietfVersion);
  // Called as `settings.fetch(…)`: a browser's own fetch must not be, so it is wrapped.
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const emit = (event: UploadEvent) => options.onEvent?.(event);
  const wantsFeatures = dialect.name === "tus" &&
    ((options.parallel ?? 1) > 1 || (options.checksum ?? "auto") !== "none");
  const link: Link = {
    endpoint: options.endpoint,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.informationalFetch ? { informationalFetch: options.informationalFetch } : {}),
    dialect,
    fetch: fetchFn,
    emit,
    policy: { ...DEFAULT_RETRY, ...options.retry },
    deadlines: { ...DEFAULT_DEADLINES, ...options.deadlines },
    contact: new Contact(),
  };
  const features = wantsFeatures ? await discover(link) : noFeatures();
  const checksum = options.hashing.checksum
    ? chooseChecksum(options, dialect, features, emit)
    : undefined;
  let parallel = Math.max(1, Math.floor(options.parallel ?? 1));
  if (parallel > 1 && !(dialect.name === "tus" && features.extensions.has("concatenation"))) {
    const why = dialect.name === "tus"
      ? "The server offers no concatenation"
      : `Parallel parts need tus concatenation, not the ${dialect.name} dialect`;
    emit({ type: "notice", message: `${why}: uploading in one stream instead of ${parallel}` });
    parallel = 1;
  }
  parallel = Math.min(parallel, Math.max(1, source.size));
  const settings: Settings = {
    ...options,
    ...link,
    hashing: options.hashing,
    chunk: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    ...(checksum ? { checksumAlgorithm: checksum } : {}),
  };
  if (!(settings.chunk > 0)) throw new RangeError("chunkSize must be positive");
  const resume = options.resume;
  const previous = resume ? await resume.store.get(resume.fingerprint) : undefined;
  const remembered = previous?.size === source.size ? previous : undefined;
  const save = serialised(async (record: ResumeRecord) => {
    if (resume) await resume.store.set(resume.fingerprint, record);
  });
  const record: ResumeRecord = {
    url: remembered?.url ?? "",
    endpoint: options.endpoint,
    size: source.size,
    createdAt: remembered?.createdAt ?? Date.now(),
    ...(resume?.path === undefined ? {} : { path: resume.path }),
    ...(remembered?.parts ? { parts: remembered.parts } : {}),
  };

  let outcome: { url: string; local: Digests; server: Partial<Digests> };
  if (parallel > 1 || record.parts) {
    outcome = await uploadParts(source, settings, record, save, parallel);
  } else {
    const transfer = new Transfer(source, settings, {
      ...(record.url ? { url: record.url } : {}),
      onCreated: (url) => save({ ...record, url }),
    });
    const done = await transfer.run();
    outcome = { url: done.url, local: done.local!, server: done.server };
  }

  const { url, local, server } = outcome;
  const mismatch = (["md5", "sha256"] as const).some((k) =>
    server[k] !== undefined && server[k] !== local[k]
  );
  // Success or a proven mismatch: either way the next run must not resume this upload.
  if (resume) await resume.store.delete(resume.fingerprint);
  if (mismatch) {
    throw new UploadError(
      0,
      "digest-mismatch",
      `Verification failed for ${url}: local ${showDigests(local)}; server ${showDigests(server)}`,
    );
  }
  const result: UploadResult = {
    url,
    size: source.size,
    md5: base64ToHex(local.md5),
    sha256: base64ToHex(local.sha256),
    verified: server.md5 !== undefined || server.sha256 !== undefined ? "digest" : "size",
  };
  emit({ type: "completed", ...result });
  return result;
}

/** "md5 <hex>, sha256 <hex>" ("?" where unknown), as both sides' digests are printed. */
export function showDigests(d: Partial<Digests>): string {
  return `md5 ${d.md5 ? base64ToHex(d.md5) : "?"}, sha256 ${
    d.sha256 ? base64ToHex(d.sha256) : "?"
  }`;
}

function chooseChecksum(
  options: UploadOptions,
  dialect: Dialect,
  features: ServerFeatures,
  emit: (event: UploadEvent) => void,
): ChecksumAlgorithm | undefined {
  const wanted = options.checksum ?? "auto";
  if (wanted === "none" || dialect.name !== "tus") return undefined;
  if (wanted === "auto") return fastestChecksum(features.checksums);
  if (!features.checksums.includes(wanted)) {
    emit({ type: "notice", message: `The server offers no ${wanted} checksum: sending none` });
    return undefined;
  }
  return wanted;
}

interface Settings extends UploadOptions, Link {
  fetch: typeof fetch;
  deadlines: Deadlines;
  hashing: Hashing;
  chunk: number;
  checksumAlgorithm?: ChecksumAlgorithm;
}

/**
 * N partial uploads of consecutive ranges, sent concurrently, then a final upload that
 * concatenates them. The resume record remembers each part (and the final) as soon as it exists.
 */
async function uploadParts(
  source: UploadSource,
  settings: Settings,
  record: ResumeRecord,
  save: (record: ResumeRecord) => Promise<void>,
  parallel: number,
) {
  const n = record.parts?.length ?? parallel;
  const parts: (string | null)[] = record.parts ?? Array(n).fill(null);
  const size = source.size;
  const bounds = Array.from({ length: n + 1 }, (_, i) => Math.floor((size * i) / n));
  const acknowledged = Array(n).fill(0);
  const sent = Array(n).fill(0);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const progress = () =>
    settings.emit({
      type: "progress",
      acknowledged: sum(acknowledged),
      sent: sum(sent),
      total: size,
    });
  const transfers = parts.map((url, i) =>
    new Transfer(rangeSource(source, bounds[i]!, bounds[i + 1]!), {
      ...settings,
      metadata: {},
      emit: (event) => {
        if (event.type === "progress") {
          acknowledged[i] = event.acknowledged;
          sent[i] = event.sent;
          progress();
        } else if (event.type !== "completed") settings.emit({ ...event, part: i } as UploadEvent);
      },
    }, {
      ...(url ? { url } : {}),
      createHeaders: { [H.uploadConcat]: "partial" },
      hash: false,
      onCreated: (created) => {
        parts[i] = created;
        return save({ ...record, parts: [...parts] });
      },
    })
  );
  const done = await Promise.all(transfers.map((t) => t.run()));
  const urls = done.map((d) => d.url);
  // The local digests of the whole file: one sequential pass (parts can't be combined).
  const local = settings.hashing.digest();
  for (let at = 0; at < size; at += PIECE) await local.update(await source.read(at, PIECE));
  await source.check?.();
  const final = new Transfer(source, settings, {
    ...(record.url ? { url: record.url } : {}),
    createHeaders: { [H.uploadConcat]: `final;${urls.join(" ")}` },
    final: true,
    hash: false,
    onCreated: (url) => save({ ...record, url, parts: urls }),
  });
  const assembled = await final.run();
  return { url: assembled.url, local: await local.digest(), server: assembled.server };
}

interface ServerState {
  /** Undefined for a final upload that is not assembled yet. */
  offset?: number;
  length?: number;
  digests?: Partial<Digests>;
}

interface TransferOptions {
  /** Resume this upload (HEAD, then continue); otherwise create one. */
  url?: string;
  createHeaders?: Record<string, string>;
  /** A tus final upload: created, never PATCHed; done once the server reports its offset. */
  final?: boolean;
  /** Compute local digests (default true). */
  hash?: boolean;
  onCreated?: (url: string) => Promise<void>;
}

/** One upload resource: create or resume it, then PATCH until the server holds every byte. */
class Transfer {
  readonly #source: UploadSource;
  readonly #s: Settings;
  readonly #t: TransferOptions;
  readonly #hash: RunningDigest | undefined;
  #url: string | undefined;
  #offset = 0;
  /** How far the body of the PATCH in flight has been handed to fetch. */
  #sent = 0;
  #sentReportedAt = -Infinity;
  #server: Partial<Digests> | undefined;

  constructor(source: UploadSource, settings: Settings, options: TransferOptions) {
    this.#source = source;
    this.#s = settings;
    this.#t = options;
    this.#url = options.url;
    this.#hash = options.hash === false ? undefined : settings.hashing.digest();
  }

  async run(): Promise<{ url: string; local?: Digests; server: Partial<Digests> }> {
    try {
      return await this.#run();
    } catch (error) {
      this.#hash?.drop(); // an abandoned hash must not keep the hashing worker alive
      throw error;
    }
  }

  async #run(): Promise<{ url: string; local?: Digests; server: Partial<Digests> }> {
    const size = this.#source.size;
    let needSync = this.#url !== undefined;
    let announced = false;
    let attempt = 0;
    let confirmed = -1; // the highest offset the server has reported
    for (;;) {
      try {
        this.#s.signal?.throwIfAborted();
        if (this.#url === undefined) {
          await this.#create();
          announced = true;
          needSync = this.#t.final === true && this.#offset < size;
        } else if (needSync) {
          const state = await this.#head();
          if (state.length !== undefined && state.length !== size) {
            throw new UploadError(
              410,
              "length-differs",
              "The remembered upload has another length",
            );
          }
          if (this.#t.final && state.offset === undefined) {
            throw new UploadError(503, "not-assembled", "The final upload is not assembled yet");
          }
          this.#offset = state.offset ?? 0;
          this.#server = state.digests;
          needSync = false;
          if (!announced) this.#s.emit({ type: "resumed", url: this.#url, offset: this.#offset });
          announced = true;
          this.#progress();
        }
        if (this.#offset > confirmed) {
          if (confirmed >= 0) attempt = 0; // progress, even if only a HEAD revealed it
          confirmed = this.#offset;
        }
        if (this.#offset >= size) {
          if (this.#server === undefined) {
            const state = await this.#head();
            this.#offset = state.offset ?? 0;
            this.#server = state.digests ?? {};
            if (this.#offset < size) continue; // truncated behind our back: send the rest
          }
          break;
        }
        if (this.#t.final) {
          throw new UploadError(409, "final-incomplete", "The final upload holds fewer bytes");
        }
        await this.#source.check?.();
        await this.#hashUpTo(this.#offset);
        this.#offset = await this.#patch(
          this.#offset,
          Math.min(this.#s.chunk, size - this.#offset),
        );
        this.#progress();
      } catch (error) {
        this.#sent = 0; // what a failed request sent is lost: the server's offset is the truth
        if (this.#s.signal?.aborted) throw aborted(error);
        if (!(error instanceof UploadError)) throw error;
        if (error.code === "file-changed" || error.code === "usage") throw error;
        const verdict = classify(error.status === 0 ? undefined : error.status);
        // Creation answered 404 or 410: the endpoint is wrong, and asking again won't change it.
        if (verdict === "fatal" || (verdict === "restart" && this.#url === undefined)) {
          throw new UploadError(error.status, "rejected", `Server refused: ${error.message}`);
        }
        if (error.code === "network" && !this.#s.contact.answered) {
          await waitForContact(this.#s, error);
          continue;
        }
        attempt++;
        if (attempt > this.#s.policy.retries) {
          throw new UploadError(
            error.status,
            "gave-up",
            `Gave up after ${attempt} attempts without progress; last error: ${error.message}`,
          );
        }
        if (verdict === "restart") {
          this.#s.emit({ type: "restarted", reason: `${error.message}; starting a new upload` });
          this.#url = undefined;
          this.#offset = 0;
          this.#server = undefined;
          confirmed = -1;
          continue;
        }
        const delayMs = verdict === "resync" && attempt === 1
          ? 0
          : backoffMs(attempt - 1, this.#s.policy, error.headers["Retry-After"], this.#s.random);
        this.#s.emit({
          type: "retry",
          attempt,
          delayMs,
          reason: error.message,
          ...(error.status === 0 ? {} : { status: error.status }),
        });
        await (this.#s.sleep ?? sleep)(delayMs, this.#s.signal);
        needSync = true;
      }
    }
    await this.#source.check?.(); // a change while the last chunk was in flight
    await this.#hashUpTo(size);
    return {
      url: this.#url!,
      ...(this.#hash ? { local: await this.#hash.digest() } : {}),
      server: this.#server ?? {},
    };
  }

  /** Reports `sent` while a body streams, at most every SENT_EVERY_MS and at its end. */
  #sending(at: number, end: number): void {
    this.#sent = at;
    const now = performance.now();
    if (at < end && now - this.#sentReportedAt < SENT_EVERY_MS) return;
    this.#sentReportedAt = now;
    this.#progress();
  }

  #progress(): void {
    this.#s.emit({
      type: "progress",
      acknowledged: this.#offset,
      sent: Math.max(this.#sent, this.#offset),
      total: this.#source.size,
    });
  }

  async #create(): Promise<void> {
    const { endpoint, metadata, dialect } = this.#s;
    const size = this.#source.size;
    // The draft with a 1xx-capable fetch: the first chunk goes in the creation request.
    const first = dialect.draft && this.#s.informationalFetch && !this.#t.final && size > 0
      ? Math.min(this.#s.chunk, size, BUFFERED_CHUNK_MAX)
      : 0;
    const headers: Record<string, string> = this.#t.final
      ? { ...this.#t.createHeaders }
      : { ...dialect.create(size, first === size), ...this.#t.createHeaders };
    if (metadata && Object.keys(metadata).length > 0) {
      headers[H.uploadMetadata] = encodeMetadata(metadata);
    }
    const res = first > 0
      ? await this.#createWithData(headers, first)
      : await send(this.#s, "POST", endpoint, headers);
    const location = res.headers.get("location");
    if (!location) {
      throw new UploadError(
        res.status,
        "bad-response",
        `POST answered ${res.status} without Location`,
      );
    }
    const url = new URL(location, endpoint).href;
    if (this.#url !== undefined && this.#url !== url) {
      throw new UploadError(0, "bad-response", `The 104 said ${this.#url}, the final ${url}`);
    }
    const state = serverState(res, false);
    this.#offset = state.offset ?? 0;
    this.#server = state.digests;
    if (this.#url === undefined) await this.#announced(url);
  }

  /**
   * A creation that carries the first `length` bytes. The server's 104 gives the upload's URL
   * before the body is sent: remembered at once, so a cut from here on resumes rather than
   * starting over (the caller's retry sees a known URL and asks its offset).
   */
  async #createWithData(headers: Record<string, string>, length: number): Promise<Answer> {
    const { bytes } = await this.#chunk(0, length);
    await this.#hashRange(0, bytes);
    const draft = this.#s.dialect.draft!;
    let saved: Promise<void> | undefined;
    const body = bytes as Uint8Array<ArrayBuffer>;
    const res = await send(this.#s, "POST", this.#s.endpoint, headers, body, (status, h) => {
      const location = h.get("location");
      // "Clients MUST ignore a 104 … with missing or mismatching interop version."
      if (
        status !== 104 || h.get(H.uploadDraftInteropVersion) !== String(draft.version) || !location
      ) return;
      if (this.#url !== undefined) return;
      this.#url = new URL(location, this.#s.endpoint).href;
      saved = this.#announced(this.#url);
    }).finally(() => saved);
    this.#sent = Math.max(this.#sent, length);
    return res;
  }

  async #announced(url: string): Promise<void> {
    this.#url = url;
    await this.#t.onCreated?.(url);
    this.#s.emit({ type: "created", url });
  }

  async #head(): Promise<ServerState> {
    return serverState(await send(this.#s, "HEAD", this.#url!, {}), !this.#t.final);
  }

  async #patch(offset: number, length: number): Promise<number> {
    let body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;
    const headers: Record<string, string> = {
      [H.uploadOffset]: String(offset),
      ...this.#s.dialect.append(offset, length, this.#source.size),
    };
    const end = offset + length;
    this.#sent = offset; // nothing of this body is out yet (and a failed one's bytes are lost)
    if (length <= BUFFERED_CHUNK_MAX) {
      const { bytes, checksum } = await this.#chunk(offset, length);
      await this.#hashRange(offset, bytes);
      if (checksum) headers[H.uploadChecksum] = checksum;
      body = this.#s.streamBody
        ? this.#stream(offset, end, (at) => {
          const from = at - offset;
          return Promise.resolve(bytes.subarray(from, from + SEND_PIECE));
        })
        : bytes as Uint8Array<ArrayBuffer>;
      // While the server stores and fsyncs this chunk, read (and checksum) the next one.
      const size = this.#source.size;
      if (end < size) this.#prefetch = this.#load(end, Math.min(this.#s.chunk, size - end));
    } else {
      body = this.#stream(offset, end, async (at) => {
        const piece = await this.#source.read(at, Math.min(PIECE, end - at));
        await this.#hashRange(at, piece);
        return piece;
      });
    }
    // The draft's append responses need not carry Upload-Offset (from version 7): a 2xx means
    // the whole body was appended.
    const draft = this.#s.dialect.draft !== undefined;
    const res = await send(this.#s, "PATCH", this.#url!, headers, body);
    const state = serverState(res, !draft);
    const now = state.offset ?? offset + length;
    if (now < offset) {
      throw new UploadError(409, "offset-went-back", `Server offset went back to ${now}`);
    }
    if (length > 0 && now === offset) {
      // Accepted but nothing stored (e.g. a proxy dropped the body): a failure, retried with backoff.
      throw new UploadError(0, "no-progress", `PATCH at ${offset} was accepted but stored nothing`);
    }
    if (state.digests) this.#server = state.digests;
    return now;
  }

  /** A body of the bytes from `offset` to `end`, in pieces from `piece(at)`, reporting `sent`. */
  #stream(
    offset: number,
    end: number,
    piece: (at: number) => Promise<Uint8Array>,
  ): ReadableStream<Uint8Array> {
    let at = offset;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (at >= end) return controller.close();
        const bytes = await piece(at);
        at += bytes.length;
        controller.enqueue(bytes);
        this.#sending(at, end);
      },
    });
  }

  /** A chunk read ahead during the previous PATCH, if it is the one wanted now. */
  #prefetch: Promise<{ offset: number; bytes: Uint8Array; checksum?: string }> | undefined;

  async #chunk(offset: number, length: number) {
    const ahead = this.#prefetch;
    this.#prefetch = undefined;
    const got = await ahead?.catch(() => undefined);
    return got && got.offset === offset && got.bytes.length === length
      ? got
      : await this.#load(offset, length);
  }

  /**
   * Two chunk buffers, taking turns: one holds the chunk being sent, the other the one read ahead
   * (when the third read starts, the first chunk's PATCH has ended). No chunk is left to the
   * garbage collector, which lets dead chunks pile up to ~64 MiB before it runs.
   */
  #buffers: Uint8Array[] = [];

  async #read(offset: number, length: number): Promise<Uint8Array> {
    if (!this.#source.readInto) return await this.#source.read(offset, length);
    // The older of the two (the newer may hold the chunk being sent).
    let buffer = this.#buffers.length < 2 ? undefined : this.#buffers.shift();
    if (!buffer || buffer.length < length) {
      // Sized for the chunks to come (at most a buffered chunk: with Infinity, a remainder).
      buffer = new Uint8Array(Math.max(length, Math.min(this.#s.chunk, BUFFERED_CHUNK_MAX)));
    }
    this.#buffers.push(buffer);
    return buffer.subarray(0, await this.#source.readInto(offset, buffer.subarray(0, length)));
  }

  async #load(offset: number, length: number) {
    const bytes = await this.#read(offset, length);
    const algorithm = this.#s.checksumAlgorithm;
    const checksumOf = this.#s.hashing.checksum;
    return {
      offset,
      bytes,
      ...(algorithm && checksumOf ? { checksum: checksumOf(algorithm, bytes) } : {}),
    };
  }

  /** Feeds bytes at `position` to the running hash, skipping what it has already seen. */
  async #hashRange(position: number, bytes: Uint8Array): Promise<void> {
    const hash = this.#hash;
    if (!hash) return;
    const seen = hash.length;
    if (position <= seen && seen < position + bytes.length) {
      await hash.update(bytes.subarray(seen - position));
    }
  }

  /** Hashes local bytes up to `offset` (a resumed prefix, or a gap another writer filled). */
  async #hashUpTo(offset: number): Promise<void> {
    const hash = this.#hash;
    while (hash && hash.length < offset) {
      const at = hash.length;
      const piece = await this.#source.read(at, Math.min(PIECE * 8, offset - at));
      if (piece.length === 0) throw new UploadError(0, "file-changed", "The file got shorter");
      await this.#hashRange(at, piece);
    }
  }
}

/** Offset, length and digests from a response; `needOffset` makes a missing offset an error. */
function serverState(res: Pick<Answer, "status" | "headers">, needOffset: boolean): ServerState {
  const offset = res.headers.get(H.uploadOffset);
  if (offset === null && needOffset) {
    throw new UploadError(res.status, "bad-response", `${res.status} without Upload-Offset`);
  }
  const length = res.headers.get(H.uploadLength);
  const digest = res.headers.get(H.reprDigest);
  const digests = digest ? parseReprDigest(digest) : undefined;
  // The parser's 400 would blame this client: a malformed header is the server's bad response.
  const integer = (name: string, value: string) => {
    try {
      return parseHeaderInteger(name, value);
    } catch (error) {
      throw new UploadError(res.status, "bad-response", (error as Error).message, { cause: error });
    }
  };
  return {
    ...(offset === null ? {} : { offset: integer(H.uploadOffset, offset) }),
    ...(length === null ? {} : { length: integer(H.uploadLength, length) }),
    ...(digests ? { digests } : {}),
  };
}

/** Runs calls one after another (resume-record writes from concurrent parts). */
function serialised<T>(fn: (value: T) => Promise<void>): (value: T) => Promise<void> {
  let last = Promise.resolve();
  return (value) => (last = last.then(() => fn(value), () => fn(value)));
}
