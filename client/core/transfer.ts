/**
 * One upload resource: create it (or resume it from the server's offset), then PATCH chunk by
 * chunk until the server holds every byte, retrying with backoff.
 */
import type { ChecksumAlgorithm } from "../../lib/checksum_header.ts";
import type { Digests } from "../../lib/digest_header.ts";
import { UploadError } from "../../lib/errors.ts";
import { encodeMetadata } from "../../lib/metadata.ts";
import { H } from "../../lib/protocol.ts";
import { BUFFERED_CHUNK_MAX, ChunkReader } from "./chunk_reader.ts";
import type { Answer, Deadlines } from "./deadline.ts";
import { aborted, type Link, send, sleep, waitForContact } from "./link.ts";
import { LocalHash, PIECE } from "./local_hash.ts";
import { backoffMs, classify } from "./retry.ts";
import { type ServerState, serverState } from "./server_state.ts";
import type { UploadSource } from "./source.ts";
import type { Hashing, UploadOptions } from "./upload_options.ts";

/**
 * A buffered chunk is streamed in SEND_PIECES pieces, so `sent` moves smoothly, of at least
 * SEND_PIECE_MIN bytes and at most SEND_PIECE_MAX: each piece costs bookkeeping in fetch (8 MiB
 * chunks in 64 KiB pieces take ~5 MiB more peak memory and ~0.15 s more CPU per 512 MiB than in
 * 1 MiB ones).
 */
const SEND_PIECES = 8;
const SEND_PIECE_MIN = 64 * 1024;
const SEND_PIECE_MAX = 1024 * 1024;
/** `sent` progress is reported at most this often while a body streams (acknowledgements always). */
const SENT_EVERY_MS = 100;

/** The options of a run, resolved: what every transfer of it shares. */
export interface Settings extends UploadOptions, Link {
  fetch: typeof fetch;
  deadlines: Deadlines;
  hashing: Hashing;
  chunk: number;
  checksumAlgorithm?: ChecksumAlgorithm;
}

/** Where the upload is, and both sides' digests (local ones unless `hash` is false). */
export interface TransferResult {
  url: string;
  local?: Digests;
  server: Partial<Digests>;
}

export interface TransferOptions {
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
export class Transfer {
  readonly #source: UploadSource;
  readonly #s: Settings;
  readonly #t: TransferOptions;
  readonly #hash: LocalHash | undefined;
  readonly #chunks: ChunkReader;
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
    this.#hash = options.hash === false
      ? undefined
      : new LocalHash(source, settings.hashing.digest());
    const algorithm = settings.checksumAlgorithm;
    const checksumOf = settings.hashing.checksum;
    this.#chunks = new ChunkReader(
      source,
      settings.chunk,
      algorithm && checksumOf ? (bytes) => checksumOf(algorithm, bytes) : undefined,
    );
  }

  async run(): Promise<TransferResult> {
    try {
      return await this.#run();
    } catch (error) {
      this.#hash?.drop();
      throw error;
    }
  }

  async #run(): Promise<TransferResult> {
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
        await this.#hash?.upTo(this.#offset);
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
    await this.#hash?.upTo(size);
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
    const { bytes } = await this.#chunks.chunk(0, length);
    await this.#hash?.feed(0, bytes);
    const draft = this.#s.dialect.draft!;
    let saved: Promise<void> | undefined;
    const body = bytes as Uint8Array<ArrayBuffer>;
    const onInformational = (status: number, h: Headers) => {
      const location = h.get("location");
      // "Clients MUST ignore a 104 … with missing or mismatching interop version."
      if (
        status !== 104 || h.get(H.uploadDraftInteropVersion) !== String(draft.version) || !location
      ) return;
      if (this.#url !== undefined) return;
      this.#url = new URL(location, this.#s.endpoint).href;
      saved = this.#announced(this.#url);
    };
    const res = await send(this.#s, "POST", this.#s.endpoint, headers, body, { onInformational })
      .finally(() => saved);
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
    let hashed: Promise<void> | undefined;
    if (length <= BUFFERED_CHUNK_MAX) {
      const { bytes, checksum } = await this.#chunks.chunk(offset, length);
      // Hashed while it is sent, from the chunk's own buffer, which is not reused before then.
      hashed = this.#hash?.lend(offset, bytes);
      if (checksum) headers[H.uploadChecksum] = checksum;
      const piece = Math.min(
        SEND_PIECE_MAX,
        Math.max(SEND_PIECE_MIN, Math.ceil(length / SEND_PIECES)),
      );
      body = this.#s.streamBody
        ? this.#stream(offset, end, (at) => {
          const from = at - offset;
          return Promise.resolve(bytes.subarray(from, from + piece));
        })
        : bytes as Uint8Array<ArrayBuffer>;
      // While the server stores and fsyncs this chunk, read (and checksum) the next one.
      const size = this.#source.size;
      if (end < size) this.#chunks.readAhead(end, Math.min(this.#s.chunk, size - end));
    } else {
      body = this.#stream(offset, end, async (at) => {
        const piece = await this.#source.read(at, Math.min(PIECE, end - at));
        // Each piece is new and never reused: hashed in place, one at a time behind the reads.
        await hashed;
        hashed = this.#hash?.lend(at, piece);
        return piece;
      });
    }
    // The draft's append responses need not carry Upload-Offset (from version 7): a 2xx means
    // the whole body was appended.
    const draft = this.#s.dialect.draft !== undefined;
    // A buffered body sent through a progress fetch (a browser's XMLHttpRequest) reports `sent`.
    const onSent = (bytes: number) => this.#sending(offset + Math.min(bytes, length), end);
    let res: Answer;
    try {
      res = await send(this.#s, "PATCH", this.#url!, headers, body, { onSent });
    } finally {
      await hashed?.catch(() => {}); // a failure of its own shows in the digest
    }
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
}
