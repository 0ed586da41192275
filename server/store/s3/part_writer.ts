import type { RunningDigest } from "../../../lib/deno/digest_pool.ts";
import { gone, notFound } from "../types.ts";
import type { ByteChange, UploadRow, UploadRows } from "../pg_info.ts";
import type { ObjectKeys } from "./keys.ts";
import {
  closePartBuffer,
  createPartBuffer,
  type PartBuffer,
  reopenPartBuffer,
} from "./part_buffer.ts";
import { offsetOf } from "./rows.ts";
import type { S3Client } from "./s3_client.ts";
import { S3Error } from "./s3_error.ts";
import type { TailCache } from "./tail_cache.ts";
import { WRITE_BUFFER } from "../write_buffer.ts";

/** S3's limit on parts per multipart upload. */
const MAX_PARTS = 10_000;
/** Parts an upload of known length is sized for: a margin below MAX_PARTS. */
const PLANNED_PARTS = 9_000;
/** Parts of one request uploading at once (more didn't help a 2-core machine's local Swift). */
const PARTS_IN_FLIGHT = 2;

/** What every PartWriter of a store works with: the bucket, the rows, and this disk's scratch. */
export interface PartWriterContext {
  s3: S3Client;
  rows: UploadRows;
  keys: ObjectKeys;
  /** This instance's copies of the tails it wrote. */
  tails: TailCache;
  /** This process's buffer directory. */
  buffers: string;
  /** The configured part size (`--s3-part-size`). */
  partSize: number;
  now(): number;
}

/**
 * Why a writer stopped without failing: the upload's row changed under it (another writer), or
 * S3 can take no more parts. The store reports it as an append outcome; it never leaves the store.
 */
export class WriteStopped extends Error {
  readonly kind: "offset-mismatch" | "no-room";

  constructor(kind: "offset-mismatch" | "no-room", message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Writes one request's bytes into parts: fills a local buffer file (starting with the upload's
 * tail), uploads each full part while the next one fills (one part in flight), and records every
 * step in PostgreSQL only once S3 has it. `close` puts up what is left as the new tail, or as the
 * last part when the upload is complete.
 */
export class PartWriter {
  readonly #deps: PartWriterContext;
  readonly #hash: RunningDigest | undefined;
  #row: UploadRow;
  #buffer: PartBuffer | undefined;
  #started = false;
  /** Resolves once every sealed part is recorded (or failed). */
  #inFlight: Promise<void> | undefined;
  /** The number of the last part this writer took (each is numbered before it goes up). */
  #lastNumber: number | undefined;
  /** How many parts are uploading. */
  #uploading = 0;
  #freed: (() => void) | undefined;
  #failure: { error: unknown } | undefined;
  /** Buffer files not yet removed (for `discard`). */
  readonly #files = new Set<string>();
  /** The write buffer memory of this writer's part buffers (one open at a time). */
  readonly #storage = new Uint8Array(WRITE_BUFFER);

  constructor(deps: PartWriterContext, row: UploadRow, hash: RunningDigest | undefined) {
    this.#deps = deps;
    this.#row = row;
    this.#hash = hash;
  }

  get #id(): string {
    return this.#row.id;
  }

  /** This upload's part size: the one it began its parts with, else the one it would plan. */
  get #partSize(): number {
    return this.#row.partSize ?? this.#plannedPartSize;
  }

  /** The configured part size, or more when 9,000 parts wouldn't hold the upload. */
  get #plannedPartSize(): number {
    const length = this.#row.length ?? 0;
    const needed = Math.ceil(length / PLANNED_PARTS / (1024 * 1024)) * 1024 * 1024;
    return Math.max(this.#deps.partSize, needed);
  }

  async push(chunk: Uint8Array): Promise<void> {
    this.#check();
    if (!this.#started) await this.#start();
    while (chunk.length > 0) {
      const buffer = this.#buffer ?? await this.#open(this.#hash);
      // (A tail written by an instance with larger parts may fill a part already.)
      const room = Math.max(0, this.#partSize - buffer.out.size);
      const piece = chunk.subarray(0, room);
      chunk = chunk.subarray(piece.length);
      await buffer.out.push(piece);
      if (buffer.out.size >= this.#partSize) await this.#seal();
    }
  }

  /** Ends the request: what is left goes up as the tail (or last part); returns the new row. */
  async close(): Promise<UploadRow> {
    if (!this.#started) return this.#row;
    await this.#settle();
    const buffer = this.#buffer;
    this.#buffer = undefined;
    const left = buffer ? await closePartBuffer(buffer) : 0;
    const row = this.#row;
    const offset = row.partsBytes + left;
    const complete = row.length !== undefined && offset === row.length;
    if (!buffer || left === 0) {
      if (buffer) await this.#removeFile(buffer.path);
      return complete ? await this.complete() : row;
    }
    const body = {
      path: buffer.path,
      start: 0,
      length: left,
      sha256: buffer.sha.copy().digest("hex"),
    };
    const oldTail = row.tailKey;
    if (complete && row.partCount === 0) {
      // Smaller than a part: the whole upload is one plain object.
      await this.#deps.s3.putObject(this.#deps.keys.object(this.#id), body);
      await this.#commit({ tail: null, completed: true });
      if (row.multipartId) await this.#abortQuietly(row.multipartId);
      await this.#removeFile(buffer.path);
    } else if (complete) {
      await this.#uploadPart(body);
      await this.#removeFile(buffer.path);
      await this.complete();
    } else {
      const key = this.#deps.keys.newTail(this.#id);
      await this.#deps.s3.putObject(key, body);
      await this.#commit({ tail: { key, bytes: left } });
      // Kept on this disk: the next PATCH here continues it without fetching it back.
      this.#files.delete(buffer.path);
      this.#deps.tails.keep(this.#id, { key, path: buffer.path, bytes: left, sha: buffer.sha });
    }
    if (oldTail && oldTail !== this.#row.tailKey) await this.#deleteQuietly(oldTail);
    return this.#row;
  }

  /**
   * Completes a complete upload (all its bytes recorded): its tail becomes the last part, or the
   * whole object when there are no parts; then the multipart upload is completed.
   */
  async complete(): Promise<UploadRow> {
    const { s3 } = this.#deps;
    const key = this.#deps.keys.object(this.#id);
    if (this.#row.completed) return this.#row;
    if (this.#row.tailBytes > 0 || this.#row.partCount === 0) {
      const buffer = await this.#fetchTail();
      const left = await closePartBuffer(buffer);
      const body = { path: buffer.path, start: 0, length: left, sha256: buffer.sha.digest("hex") };
      const oldTail = this.#row.tailKey;
      if (this.#row.partCount === 0) {
        await s3.putObject(key, body);
        const stale = this.#row.multipartId;
        await this.#commit({ tail: null, completed: true });
        if (stale) await this.#abortQuietly(stale);
      } else {
        await this.#uploadPart(body);
      }
      await this.#removeFile(buffer.path);
      if (oldTail) await this.#deleteQuietly(oldTail);
      if (this.#row.completed) return this.#row;
    }
    const parts = await this.#deps.rows.parts(this.#id);
    try {
      await s3.completeMultipartUpload(key, this.#row.multipartId!, parts);
    } catch (error) {
      // Completed by an earlier attempt that died before recording it: the object is there.
      const head = error instanceof S3Error && error.code === "NoSuchUpload"
        ? await s3.headObject(key)
        : undefined;
      if (head?.size !== this.#row.length) throw error;
    }
    return await this.#commit({ completed: true });
  }

  /** Throws away buffers after a failure (nothing of them was recorded). */
  async discard(): Promise<void> {
    await this.#inFlight;
    try {
      this.#buffer?.file.close();
    } catch {
      // closed already
    }
    this.#buffer = undefined;
    for (const path of this.#files) await Deno.remove(path).catch(() => {});
    this.#files.clear();
  }

  /** Loads the tail the upload has, if any, as the start of the first buffer. */
  async #start(): Promise<void> {
    this.#started = true;
    // A length declared after the parts began may need larger parts. They may grow only while no
    // part above the recorded ones may be in S3: one would hold other bytes than its successor.
    const { partSize, lastPart, nextPart } = this.#row;
    if (partSize !== undefined && this.#plannedPartSize > partSize && nextPart <= lastPart) {
      await this.#commit({ partSize: this.#plannedPartSize });
    }
    if (this.#row.tailBytes > 0) this.#buffer = await this.#fetchTail();
  }

  /** A buffer holding the upload's tail: this instance's local copy, or fetched from S3. */
  async #fetchTail(): Promise<PartBuffer> {
    const row = this.#row;
    const cached = this.#deps.tails.take(this.#id);
    if (cached && cached.key === row.tailKey && cached.bytes === row.tailBytes) {
      const buffer = await reopenPartBuffer(cached.path, cached.bytes, cached.sha, {
        digest: this.#hash,
        storage: this.#storage,
      });
      this.#files.add(cached.path);
      return buffer;
    }
    if (cached) await Deno.remove(cached.path).catch(() => {});
    // The running digest has the tail's bytes already: it follows the buffer only after them.
    const buffer = await this.#open(undefined);
    if (row.tailBytes > 0) {
      for await (const chunk of await this.#deps.s3.getObject(row.tailKey!, 0, row.tailBytes)) {
        await buffer.out.push(chunk);
      }
      await buffer.out.flush(false);
      if (buffer.out.size !== row.tailBytes) {
        throw new Error(
          `The tail of upload ${this.#id} holds ${buffer.out.size} bytes, not ${row.tailBytes}`,
        );
      }
    }
    buffer.digest = this.#hash;
    return buffer;
  }

  /** A new buffer, its writes feeding `digest`. */
  async #open(digest: RunningDigest | undefined): Promise<PartBuffer> {
    const options = { digest, storage: this.#storage };
    this.#buffer = await createPartBuffer(this.#deps.buffers, this.#id, options);
    this.#files.add(this.#buffer.path);
    return this.#buffer;
  }

  /**
   * A full buffer goes up as the next part, in the background, while the next one fills. Up to
   * PARTS_IN_FLIGHT parts upload at once; they are recorded strictly in order, each only once
   * every part before it is, so the recorded offset never skips a byte.
   */
  async #seal(): Promise<void> {
    const buffer = this.#buffer!;
    this.#buffer = undefined;
    const size = await closePartBuffer(buffer);
    this.#check();
    if (!this.#row.multipartId) {
      await this.#settle();
      const key = this.#deps.keys.object(this.#id);
      const multipartId = await this.#deps.s3.createMultipartUpload(key);
      await this.#commit({ multipartId, partSize: this.#partSize });
    }
    while (this.#uploading >= PARTS_IN_FLIGHT) await this.#slotFreed();
    this.#check();
    const part = await this.#takePartNumber();
    const body = { path: buffer.path, start: 0, length: size, sha256: buffer.sha.digest("hex") };
    this.#uploading++;
    const uploaded = this.#sendPart(part, body).finally(() => {
      this.#uploading--;
      this.#freed?.();
    });
    uploaded.catch(() => {}); // observed below, in order
    const before = this.#inFlight;
    this.#inFlight = (async () => {
      await before;
      const etag = await uploaded;
      this.#check(); // an earlier part failed: recording this one would skip its bytes
      const oldTail = this.#row.tailKey;
      // The part holds the old tail's bytes too: the tail is cleared in the same step.
      await this.#commit({ parts: [{ part, size, etag }], tail: null });
      await this.#removeFile(buffer.path);
      if (oldTail) await this.#deleteQuietly(oldTail);
    })().catch((error) => {
      this.#failure ??= { error };
    });
  }

  /**
   * The next part's number, recorded as intended before the part goes up. Numbers go on from the
   * last recorded part, so a part a dead (or stopped) writer uploaded but never recorded is
   * overwritten by the one recorded under its number: it holds the same bytes of the upload.
   */
  async #takePartNumber(): Promise<number> {
    const part = (this.#lastNumber ?? this.#row.lastPart) + 1;
    this.#lastNumber = part;
    if (!(await this.#deps.rows.intendPart(this.#id, part))) {
      throw gone(this.#id);
    }
    return part;
  }

  #slotFreed(): Promise<void> {
    return new Promise((resolve) => this.#freed = resolve);
  }

  async #sendPart(
    part: number,
    body: { path: string; start: number; length: number; sha256: string },
  ): Promise<string> {
    if (part > MAX_PARTS) {
      throw new WriteStopped(
        "no-room",
        `Upload ${this.#id} would need more than ${MAX_PARTS} parts`,
      );
    }
    return await this.#deps.s3.uploadPart(
      this.#deps.keys.object(this.#id),
      this.#row.multipartId!,
      part,
      body,
    );
  }

  /** Uploads the next part now (nothing else in flight) and records it. */
  async #uploadPart(body: { path: string; start: number; length: number; sha256: string }) {
    await this.#settle();
    if (!this.#row.multipartId) {
      const key = this.#deps.keys.object(this.#id);
      const multipartId = await this.#deps.s3.createMultipartUpload(key);
      await this.#commit({ multipartId, partSize: this.#partSize });
    }
    const part = await this.#takePartNumber();
    const etag = await this.#sendPart(part, body);
    await this.#commit({ parts: [{ part, size: body.length, etag }], tail: null });
  }

  async #commit(change: Omit<ByteChange, "updatedAt">): Promise<UploadRow> {
    const next = await this.#deps.rows.change(this.#id, this.#row.version, {
      ...change,
      updatedAt: this.#deps.now(),
    });
    if (!next) {
      const now = await this.#deps.rows.get(this.#id);
      if (!now || now.ended) {
        throw notFound(this.#id);
      }
      throw new WriteStopped(
        "offset-mismatch",
        `Upload ${this.#id} was changed by another request meanwhile; it holds ${
          offsetOf(now)
        } bytes`,
      );
    }
    this.#row = next;
    return next;
  }

  /** Waits for the part in flight; rethrows its failure. */
  async #settle(): Promise<void> {
    await this.#inFlight;
    this.#inFlight = undefined;
    this.#check();
  }

  #check(): void {
    if (this.#failure) throw this.#failure.error;
  }

  async #removeFile(path: string): Promise<void> {
    this.#files.delete(path);
    await Deno.remove(path).catch(() => {});
  }

  async #deleteQuietly(key: string): Promise<void> {
    // A stale tail left behind is found by collectGarbage.
    await this.#deps.s3.deleteObject(key).catch(() => {});
  }

  async #abortQuietly(multipartId: string): Promise<void> {
    await this.#deps.s3.abortMultipartUpload(this.#deps.keys.object(this.#id), multipartId).catch(
      () => {},
    );
  }
}
