import type { Checksum, ChecksumAlgorithm } from "../../lib/checksum.ts";
import type { Digests } from "../../lib/digest_header.ts";

/** What a store knows about one upload. `offset` is always derived from the stored bytes. */
export interface UploadInfo {
  id: string;
  /** Total length in bytes; undefined while deferred (creation-defer-length). */
  length?: number;
  /** Committed (durable) bytes: the size of the stored data, never a cached belief. */
  offset: number;
  /** The validated `Upload-Metadata` header, echoed as received ("" when none). */
  metadata: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Time of the last write to the data (its mtime), in milliseconds since the epoch. */
  updatedAt: number;
  /** Whole-upload digests, recorded once the upload is complete (see `finish`). */
  digests?: Digests;
  /** tus concatenation: a partial upload (and the finals using it), or a final one. */
  concat?: Concat;
  /** The `sub` of the token that created it (auth on). */
  owner?: string;
  /**
   * Set on a tombstone: the upload was terminated or expired at `at`; its bytes are gone (offset
   * 0) and only this record is left, so status and listing can still tell what became of it.
   */
  ended?: Ended;
}

/** How an upload ended: terminated by its client, or expired by the sweep. */
export interface Ended {
  state: "terminated" | "expired";
  at: number;
}

export type Concat =
  | { kind: "partial"; finals?: string[] }
  | { kind: "final"; parts: string[] };

export interface NewUpload {
  id: string;
  length?: number;
  metadata: string;
  createdAt: number;
  concat?: Concat;
  owner?: string;
}

/**
 * How the append path (`limitedAppend`) reads a request body into a store: the limits, rates,
 * budget and checksum are enforced there, once, above every store.
 */
export interface AppendOptions {
  /** Accept at most this many bytes; more is reported as `overflow` and never stored. */
  maxBytes: number;
  /** Aborting stops reading the body; what arrived so far is kept and made durable. */
  signal: AbortSignal;
  /**
   * Stop reading (keeping what arrived, as for a stop) when the body is silent for `idleMs`, or
   * brings fewer than `minRate` bytes per second on average over the last `idleMs`.
   */
  idleMs?: number;
  minRate?: number;
  /** A shared allowance (a quota) each chunk is taken from; running out is an overflow. */
  budget?: Budget;
  /** Hears how many bytes of the body were taken so far (not yet durable), after each chunk. */
  onProgress?: (bytes: number) => void;
  /**
   * Verify the whole body before any of it is stored (tus checksum): a body that doesn't match,
   * or doesn't arrive whole, leaves the upload exactly as it was — even across a crash.
   */
  checksum?: ChecksumCheck;
}

export interface Budget {
  /** Takes up to `n` bytes; returns how many were granted. */
  take(n: number): number;
  /** The append is over: what was taken but not stored is given back. */
  settle(): Promise<void>;
}

export interface ChecksumCheck {
  /** Known up front (a header); unknown for a trailer, when every algorithm is computed. */
  algorithm?: ChecksumAlgorithm;
  /** The expected checksum, asked for once the body has ended. */
  expected(): Promise<Checksum>;
}

/**
 * What a store's append did — facts, never a status code; the append path decides what each
 * means for the client.
 */
export type AppendOutcome =
  /** The body was copied and is durable; `offset` is the committed offset after it. */
  | { kind: "appended"; offset: number }
  /** The stored bytes end at `offset`, not where the append was asked to start: nothing written. */
  | { kind: "offset-mismatch"; offset: number }
  /** The store can hold no more of this upload (`reason` says why); `offset` is committed. */
  | { kind: "no-room"; offset: number; reason: string };

/**
 * Why a store could not do what it was asked — a fact about the upload or the storage, never a
 * status code: the handler decides, in one place, what each kind means for the client.
 */
export type StoreErrorKind =
  /** No such live upload. */
  | "not-found"
  /** The upload ended (terminated or expired) while this request was using it. */
  | "gone"
  /** A partial upload a final one is to use has ended. */
  | "part-gone"
  /** The upload's bytes are needed whole, and not all of them have arrived. */
  | "incomplete"
  /** The bytes can't be read until the upload is complete. */
  | "in-progress"
  /** Another writer changed the upload meanwhile. */
  | "conflict"
  /** A stored record can't be read back: the server's own broken state. */
  | "corrupt-record"
  /** The service behind the store (object storage, a database) is unreachable: retry later. */
  | "storage-unavailable"
  /** The storage has no room left (a full disk, an exhausted quota): retry once there is. */
  | "storage-full";

/**
 * What a store throws for a `StoreErrorKind`. The message is told to the client, except for a
 * corrupt record, whose message names server paths and is only logged.
 */
export class StoreError extends Error {
  readonly kind: StoreErrorKind;

  constructor(kind: StoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.kind = kind;
  }
}

/** A full disk (or an exhausted quota) as the file system reports it (`ENOSPC`, `EDQUOT`). */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** The `StoreError` for an upload the store doesn't hold (or no longer does). */
export function notFound(id: string): StoreError {
  return new StoreError("not-found", `Upload ${id} not found`);
}

/** The `StoreError` for an upload that ended (or went) while a request was using it. */
export function gone(id: string): StoreError {
  return new StoreError("gone", `Upload ${id} no longer exists`);
}

/** The `StoreError` for a partial upload, wanted by a final one, that has ended. */
export function partGone(id: string): StoreError {
  return new StoreError("part-gone", `Part ${id} no longer exists`);
}

/** What became of one request body in the append path: the store's outcome and the limits'. */
export interface AppendResult {
  /** The committed offset after the write, durable on return. */
  offset: number;
  /** The body held more than `maxBytes`; the excess was not stored. */
  overflow: boolean;
  /** Reading stopped because the signal aborted, or (with `idle`) the body went silent. */
  stopped: boolean;
  idle?: boolean;
  /** The body failed mid-way (client gone); what arrived was kept (unless checksummed). */
  bodyError?: unknown;
  /** The body did not match its checksum and was discarded. */
  checksumMismatch?: boolean;
  /** The overflow was the budget's (a quota), not `maxBytes`. */
  overBudget?: boolean;
  /** The store held other than the offset asked for (`offset` is what it holds); nothing stored. */
  offsetMismatch?: boolean;
  /** The store could hold no more of this upload: why. */
  noRoom?: string;
}

/**
 * Bytes and info of uploads. A store copies bytes, makes them durable and reports what happened
 * (an `AppendOutcome`, or a `StoreError` it throws); it never decides protocol questions (limits,
 * rates, checksums, status codes) — the append path and the handler do, under the upload's lock.
 */
export interface UploadStore {
  /** Makes a new, empty upload durable. */
  create(upload: NewUpload): Promise<UploadInfo>;
  /** The upload's info with its offset read from the stored bytes, or undefined if unknown. */
  get(id: string): Promise<UploadInfo | undefined>;
  /**
   * Appends the whole body at `offset`, which should equal the stored size (the caller holds the
   * lock and has checked; a difference is reported, never written). Everything counted in the
   * outcome is durable (fsynced) when this returns. The body is trusted to end where it should
   * (the append path limits it); a body that errors is a failed append, cut back to durable bytes.
   */
  append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome>;
  /**
   * A temporary file for a body held aside while its checksum is verified (collected as garbage
   * if left behind); absent when the store keeps nothing on disk (the body stays in memory).
   */
  spill?(id: string): Spill | undefined;
  /**
   * Records the digests of a complete upload and returns them (atomically; they are derivable, so
   * a crash may lose the record, never tear it). Computed from the running
   * hash kept while appending, or by reading the bytes once if that state was lost (a restart).
   */
  finish(id: string): Promise<Digests>;
  /**
   * Records the length of a deferred-length upload, durably. An upload no longer live (removed,
   * or a tombstone) is `gone`: its caller has loaded it, so it ended meanwhile, and the request
   * must not be answered as if the length were recorded.
   */
  declareLength(id: string, length: number): Promise<void>;
  /** Records, durably, that a final upload uses this partial one. */
  addFinal(partId: string, finalId: string): Promise<void>;
  /**
   * Streams the (complete) parts into the final upload after the bytes it already holds, so an
   * assembly cut short by a crash continues where it stopped. Durable on return; returns the offset.
   */
  assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number>;
  /**
   * Deletes the bytes, and the info too — unless `ended` is given: then the info stays as a
   * tombstone (with `ended` set, offset 0) until `collectGarbage` drops it after its cutoff.
   * False if the upload was unknown (or already a tombstone).
   */
  remove(id: string, ended?: Ended): Promise<boolean>;
  /** Streams bytes [start, end) of the stored data. */
  read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>>;
  /** Every upload id held, in no particular order. */
  list(): AsyncIterable<string>;
  /**
   * Removes leftovers of interrupted operations (orphaned data, temp files) older than `cutoff`,
   * and tombstones of uploads that ended before `endedBefore` (default: `cutoff`).
   */
  collectGarbage?(cutoff: number, endedBefore?: number): Promise<number>;
  /** Where the upload's bytes are kept, for hooks; undefined (or absent) if the store can't say. */
  location?(id: string): StorageLocation | undefined;
}

/** Where bytes live: `{ type: "file", path }` for the file store; other stores name their own. */
export interface StorageLocation {
  type: string;
  [field: string]: string;
}

/** True when every byte of a known length has arrived. */
export function isComplete(info: UploadInfo): boolean {
  return info.length !== undefined && info.offset === info.length;
}

/** Where a large body waits while its checksum is verified: written once, read back once. */
export interface Spill {
  /** Appends bytes (the file is created on the first write). */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes every written byte readable. */
  flush(): Promise<void>;
  /** The written bytes, from the start. */
  stream(): ReadableStream<Uint8Array>;
  /** Removes the file, if it was created. */
  remove(): Promise<void>;
}
