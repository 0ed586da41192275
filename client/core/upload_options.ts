/** What a caller tells the upload core: where, how, and with which runtime pieces. */
import type { ChecksumAlgorithm } from "../../lib/checksum_header.ts";
import type { RunningDigest } from "../../lib/deno/digest_pool.ts";
import type { Metadata } from "../../lib/metadata.ts";
import type { InteropVersion } from "../../lib/ietf_versions.ts";
import type { Deadlines } from "./deadline.ts";
import type { ProtocolName } from "./protocol.ts";
import type { ResumeStore } from "./resume_store.ts";
import type { RetryPolicy } from "./retry.ts";
import type { UploadEvent } from "./upload_events.ts";

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

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
  /**
   * Per-PATCH checksum: an algorithm, "auto" (the fastest the server offers), or "none"
   * (`DEFAULT_CHECKSUM`).
   */
  checksum?: ChecksumAlgorithm | "none" | "auto";
  /**
   * Send every PATCH body as a stream and report `sent` progress as fetch consumes it. Off by
   * default: a browser can't stream a request body over HTTP/1.1 (`client/upload.ts` turns it on
   * in Deno). Chunks larger than 16 MiB are always streamed.
   */
  streamBody?: boolean;
  /**
   * Sends a buffered PATCH body and reports its bytes as they go out, for a runtime that can't
   * stream a request body (the page's XMLHttpRequest, `web/xhr_fetch.ts`): `sent` then moves
   * within a chunk. Not used for bodies that stream.
   */
  progressFetch?: ProgressFetch;
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

/**
 * Like `fetch` for a buffered body, calling `onSent` with how many of its bytes are out so far.
 * It must end the request and reject when `init.signal` aborts: the deadlines rely on that.
 */
export type ProgressFetch = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body: Uint8Array<ArrayBuffer>;
    signal?: AbortSignal;
  },
  onSent: (bytes: number) => void,
) => Promise<Response>;

/**
 * No per-PATCH checksum unless asked for: the whole-file MD5 + SHA-256, compared with the server's
 * at the end, already catch any difference end to end, and a per-chunk checksum costs SHA-1 of every
 * byte on both sides plus the server's staging of each chunk (1.4× slower at 8 MiB chunks, measured
 * in bench/RESULTS.md). It pays on a link that corrupts data, where it refuses the one bad chunk
 * instead of the whole upload at the end.
 */
export const DEFAULT_CHECKSUM = "none";
