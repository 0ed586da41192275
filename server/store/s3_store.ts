/**
 * Uploads in an S3-compatible bucket, their info in PostgreSQL, so any number of instances
 * behind one address serve the same uploads.
 *
 * Bytes: a PATCH is written to a local buffer file (never held in memory beyond a 1 MiB write
 * buffer); each time the buffer reaches a part (`--s3-part-size`, larger for huge uploads so
 * 10,000 parts suffice) it goes up as a multipart part while the next buffer fills. When the
 * body ends, whatever is left (fewer bytes than a part) goes up as a plain object, the upload's
 * *tail*, unless it is the very last piece, which is the last part (or, for an upload smaller
 * than a part, the whole object). The next PATCH — on any instance — starts its first part with
 * the tail's bytes (from its own disk if it wrote that tail, else fetched from S3).
 *
 * The offset rule: an upload's offset is the bytes of its recorded parts plus its recorded tail,
 * both already in S3 when PostgreSQL records them (one conditional UPDATE each). A local buffer
 * never counts, so an instance that dies loses only bytes it had not acknowledged, and every
 * instance tells a client the same offset.
 *
 * Parts: each is recorded in PostgreSQL as intended before it goes up, and numbered on from the
 * last recorded one, so part N always holds the same bytes of the upload. A part a writer
 * uploaded but never recorded (it died in between, or lost its lock) is overwritten by the next
 * writer's part N — that writer holds the upload's lock, so the old one is dead or stopped — and
 * so ends up in the completed object, or goes with the multipart upload when that is aborted.
 * Stores that keep parts a completion leaves out (Swift) are left holding none.
 */
import { createHash, type Hash } from "node:crypto";
import { checksumHashes } from "../../lib/checksum.ts";
import type { Digests } from "../../lib/digest.ts";
import { offThreadDigest, type RunningDigest } from "../../lib/digest_pool.ts";
import { UploadError } from "../../lib/errors.ts";
import { isUploadId } from "../../lib/ids.ts";
import { outcomeOf, pumpBody } from "./body.ts";
import { HashCache } from "./hash_cache.ts";
import type { ByteChange, UploadRow, UploadRows } from "./pg_info.ts";
import { S3Client, S3Error } from "./s3_client.ts";
import type {
  AppendOptions,
  AppendResult,
  Ended,
  NewUpload,
  UploadInfo,
  UploadStore,
} from "./types.ts";

/** How often this process marks its buffer directory as alive (the sweep spares it). */
const HEARTBEAT_MS = 5 * 60_000;
/** Bytes gathered in memory before one write(2) to a buffer file. */
const WRITE_BUFFER = 1024 * 1024;
/** S3's limit on parts per multipart upload. */
const MAX_PARTS = 10_000;
/** Parts an upload of known length is sized for: a margin below MAX_PARTS. */
const PLANNED_PARTS = 9_000;
/** Local copies of the tails this instance wrote, kept so its next PATCH needn't fetch them. */
const TAIL_CACHE_BYTES = 256 * 1024 * 1024;
const TAIL_MARK = ".tail-";
/** Parts of one request uploading at once (more didn't help a 2-core machine's local Swift). */
const PARTS_IN_FLIGHT = 2;
/** Least time between two scans of the bucket for leftovers. */
const SCAN_INTERVAL_MS = 3_600_000;
const never = new AbortController().signal;

export interface S3StoreOptions {
  s3: S3Client;
  rows: UploadRows;
  /** Local scratch directory (`--dir`): part buffers live under `<dir>/s3-buffer/`. */
  dir: string;
  /** Multipart part size in bytes (at least 5 MiB). */
  partSize: number;
  /** Prepended to every object key (e.g. "uploads/"). */
  prefix?: string;
  now?: () => number;
}

interface CachedTail {
  key: string;
  path: string;
  bytes: number;
  /** SHA-256 state of the file's bytes, to be continued. */
  sha: Hash;
}

export class S3Store implements UploadStore {
  readonly #s3: S3Client;
  readonly #rows: UploadRows;
  readonly #buffers: string;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #root: string;
  readonly #partSize: number;
  readonly #prefix: string;
  readonly #now: () => number;
  /** id → MD5/SHA-256 of the first `length` bytes, fed by this instance's appends. */
  readonly #hashes = new HashCache();
  readonly #tails = new Map<string, CachedTail>();
  #tailBytes = 0;
  #scannedAt = -Infinity;

  private constructor(options: S3StoreOptions, buffers: string) {
    this.#s3 = options.s3;
    this.#rows = options.rows;
    this.#root = `${options.dir.replace(/\/+$/, "")}/s3-buffer`;
    this.#buffers = buffers;
    this.#partSize = options.partSize;
    this.#prefix = options.prefix ?? "";
    this.#now = options.now ?? Date.now;
    // Other instances sharing --dir sweep buffer directories untouched for an hour: say we live.
    this.#heartbeat = setInterval(() => {
      const now = new Date();
      Deno.utime(this.#buffers, now, now).catch(() => {});
    }, HEARTBEAT_MS);
    Deno.unrefTimer(this.#heartbeat as unknown as number);
  }

  /** A store writing its buffers under `<dir>/s3-buffer/<random>/` (one directory per process). */
  static async open(options: S3StoreOptions): Promise<S3Store> {
    if (options.partSize < 5 * 1024 * 1024) throw new RangeError("The part size must be ≥ 5 MiB");
    const buffers = `${options.dir.replace(/\/+$/, "")}/s3-buffer/${
      crypto.randomUUID().slice(0, 8)
    }`;
    await Deno.mkdir(buffers, { recursive: true });
    return new S3Store(options, buffers);
  }

  /** Removes this process's buffer directory (at shutdown: nothing in it is needed after). */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const id of [...this.#tails.keys()]) this.#takeTail(id);
    this.#hashes.clear();
    await Deno.remove(this.#buffers, { recursive: true }).catch(() => {});
  }

  /** The object an upload ends up as (and the key of its multipart upload). */
  objectKey(id: string): string {
    return `${this.#prefix}${id}`;
  }

  async create(upload: NewUpload): Promise<UploadInfo> {
    return await guard(async () => infoOf(await this.#rows.insert(upload, this.#now())));
  }

  async get(id: string): Promise<UploadInfo | undefined> {
    return await guard(async () => {
      const row = await this.#rows.get(id);
      return row && infoOf(row);
    });
  }

  async append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
    options: AppendOptions,
  ): Promise<AppendResult> {
    return await guard(async () => {
      const row = await this.#live(id);
      const stored = offsetOf(row);
      if (stored !== offset) {
        throw new UploadError(
          409,
          "offset-mismatch",
          `Upload ${id} holds ${stored} bytes, not ${offset}`,
          { headers: { "Upload-Offset": String(stored) } },
        );
      }
      if (body === null) return { offset, overflow: false, stopped: false };
      return await this.#hashes.busy(
        id,
        () =>
          options.checksum
            ? this.#appendChecked(row, body, options)
            : this.#appendPlain(row, body, options),
      );
    });
  }

  async #appendPlain(
    row: UploadRow,
    body: ReadableStream<Uint8Array>,
    options: AppendOptions,
  ): Promise<AppendResult> {
    const hash = this.#hashFor(row.id, offsetOf(row));
    const writer = new PartWriter(this.#writerDeps(), row, hash);
    try {
      // A completed upload takes no more bytes (the handler's limit says so too).
      const limits = row.completed ? { ...options, maxBytes: 0 } : options;
      const pumped = await pumpBody(body, limits, (chunk) => writer.push(chunk));
      const after = await writer.close();
      return { ...outcomeOf(pumped), offset: offsetOf(after) };
    } catch (error) {
      this.#hashes.forget(row.id);
      await writer.discard();
      throw error;
    }
  }

  /**
   * A checksummed body is staged on local disk whole, verified, and only then appended: a body
   * that doesn't match (or doesn't arrive whole) leaves the upload as it was.
   */
  async #appendChecked(
    row: UploadRow,
    body: ReadableStream<Uint8Array>,
    options: AppendOptions,
  ): Promise<AppendResult> {
    const checksum = options.checksum!;
    const offset = offsetOf(row);
    const staged = `${this.#buffers}/${row.id}.${crypto.randomUUID().slice(0, 8)}.chunk`;
    const file = await Deno.open(staged, { read: true, write: true, createNew: true });
    try {
      const sums = checksumHashes(checksum.algorithm);
      const out = new FileWriter(file);
      const pumped = await pumpBody(body, options, async (chunk) => {
        for (const h of sums.values()) h.update(chunk);
        await out.push(chunk);
      });
      await out.flush();
      if (pumped.overflow || pumped.stopped || pumped.bodyError !== undefined) {
        return { ...outcomeOf(pumped), offset }; // a partial chunk can't be verified
      }
      const expected = await checksum.expected();
      if (sums.get(expected.algorithm)?.digest("base64") !== expected.digest) {
        return { ...outcomeOf(pumped), offset, checksumMismatch: true };
      }
      await file.seek(0, Deno.SeekMode.Start);
      const replay = await this.#appendPlain(row, file.readable, {
        maxBytes: Number.MAX_SAFE_INTEGER,
        signal: never,
      });
      return { ...outcomeOf(pumped), offset: replay.offset };
    } finally {
      try {
        file.close();
      } catch {
        // closed by its readable stream already
      }
      await Deno.remove(staged).catch(() => {});
    }
  }

  async finish(id: string): Promise<Digests> {
    return await guard(async () => {
      let row = await this.#live(id);
      if (row.digests && !this.#hashes.has(id)) return row.digests;
      row = await this.#complete(row);
      const kept = this.#hashes.get(id);
      let digests: Digests;
      if (kept && kept.length === row.length) {
        this.#hashes.take(id);
        digests = await kept.digest();
      } else {
        // Hashed elsewhere (another instance, or before a restart): read the object once.
        this.#hashes.forget(id);
        const state = offThreadDigest();
        try {
          for await (const chunk of await this.#s3.getObject(this.objectKey(id))) {
            await state.update(chunk);
          }
        } catch (error) {
          state.drop();
          throw error;
        }
        digests = await state.digest();
      }
      await this.#rows.setDigests(id, digests);
      return digests;
    });
  }

  /**
   * Makes a complete upload one object at its final key: the tail becomes the last part (or the
   * whole object) and the multipart upload is completed. Idempotent, and safe to repeat after a
   * crash at any step.
   */
  async #complete(row: UploadRow): Promise<UploadRow> {
    if (row.completed) return row;
    if (row.length === undefined || offsetOf(row) !== row.length) {
      throw new UploadError(
        409,
        "incomplete",
        `Upload ${row.id} is incomplete: ${offsetOf(row)} of ${row.length ?? "?"} bytes stored`,
      );
    }
    const writer = new PartWriter(this.#writerDeps(), row, undefined);
    try {
      return await writer.complete();
    } catch (error) {
      await writer.discard();
      if (error instanceof UploadError && error.code === "conflict") {
        // Another instance completed it meanwhile: fine if so.
        const now = await this.#live(row.id);
        if (now.completed) return now;
      }
      throw error;
    }
  }

  async declareLength(id: string, length: number): Promise<void> {
    await guard(() => this.#rows.setLength(id, length));
  }

  async addFinal(partId: string, finalId: string): Promise<void> {
    await guard(() => this.#rows.addFinal(partId, finalId));
  }

  async assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    let offset = offsetOf(await guard(() => this.#live(finalId)));
    let base = 0;
    for (const part of parts) {
      const end = base + part.length;
      if (offset < end) {
        const bytes = await this.read(part.id, offset - base, part.length);
        const result = await this.append(finalId, offset, bytes, {
          maxBytes: end - offset,
          signal: never,
        });
        if (result.bodyError !== undefined) throw result.bodyError;
        if (result.offset !== end) {
          throw new Error(`Part ${part.id} is shorter than ${part.length} bytes`);
        }
        offset = end;
      }
      base = end;
    }
    return offset;
  }

  async remove(id: string, ended?: Ended): Promise<boolean> {
    return await guard(async () => {
      this.#hashes.forget(id);
      this.#dropTail(id);
      // First the row: the upload stops existing (or becomes a tombstone) at once, everywhere.
      const row = await this.#rows.end(id, ended);
      if (!row) return false;
      // Then its objects; what fails here is found by collectGarbage (no row refers to it).
      await this.#deleteObjects(row);
      return true;
    });
  }

  async #deleteObjects(row: UploadRow): Promise<void> {
    const key = this.objectKey(row.id);
    const { multipartId, tailKey } = row;
    await Promise.allSettled([
      multipartId ? this.#s3.abortMultipartUpload(key, multipartId) : undefined,
      tailKey ? this.#s3.deleteObject(tailKey) : undefined,
      row.completed ? this.#s3.deleteObject(key) : undefined,
    ]);
  }

  async read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    return await guard(async () => {
      let row = await this.#live(id);
      if (!row.completed) {
        if (row.length !== undefined && offsetOf(row) === row.length) {
          row = await this.#complete(row);
        } else if (row.partCount === 0 && end <= row.tailBytes) {
          // Unfinished but still short of a part: all of it is in the tail object.
          return end <= start ? empty() : await this.#s3.getObject(row.tailKey!, start, end);
        } else {
          throw new UploadError(
            409,
            "in-progress",
            `Upload ${id} is still being uploaded; its bytes in object storage can be read ` +
              "once it is complete",
          );
        }
      }
      return end <= start ? empty() : await this.#s3.getObject(this.objectKey(id), start, end);
    });
  }

  list(): AsyncIterable<string> {
    return this.#rows.ids();
  }

  /**
   * Drops tombstones ended before `endedBefore`, and — older than `cutoff`, so no writer is
   * still about to record them — objects and multipart uploads no row refers to (leftovers of
   * a crash, or of a removal whose S3 calls failed), and buffer directories of dead processes.
   */
  async collectGarbage(cutoff: number, endedBefore = cutoff): Promise<number> {
    return await guard(async () => {
      let removed = await this.#rows.dropEnded(endedBefore);
      // Listing the whole bucket is not cheap: at most once per SCAN_INTERVAL_MS per instance.
      if (this.#now() - this.#scannedAt < SCAN_INTERVAL_MS) return removed;
      this.#scannedAt = this.#now();
      let batch: { key: string; id: string; tail: boolean }[] = [];
      const sweep = async () => {
        const rows = await this.#rows.some([...new Set(batch.map((o) => o.id))]);
        for (const o of batch) {
          const row = rows.get(o.id);
          const orphan = !row || row.ended !== undefined ||
            (o.tail ? row.tailKey !== o.key : false);
          if (orphan) {
            await this.#s3.deleteObject(o.key);
            removed++;
          }
        }
        batch = [];
      };
      for await (const object of this.#s3.listObjects(this.#prefix)) {
        const named = this.#parseKey(object.key);
        if (!named || object.lastModified >= cutoff) continue;
        batch.push({ key: object.key, ...named });
        if (batch.length >= 500) await sweep();
      }
      await sweep();
      for await (const upload of this.#s3.listMultipartUploads(this.#prefix)) {
        const named = this.#parseKey(upload.key);
        if (!named || named.tail || upload.initiated >= cutoff) continue;
        const row = (await this.#rows.some([named.id])).get(named.id);
        // Also a leftover of a completed upload (its abort after completion failed).
        const orphan = !row || row.ended !== undefined || row.completed ||
          row.multipartId !== upload.uploadId;
        if (orphan) {
          await this.#s3.abortMultipartUpload(upload.key, upload.uploadId);
          removed++;
        }
      }
      removed += await this.#sweepBuffers(cutoff);
      return removed;
    });
  }

  /** Buffer directories of other processes (ours is in use) untouched since `cutoff`. */
  async #sweepBuffers(cutoff: number): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(this.#root)) {
        const path = `${this.#root}/${entry.name}`;
        if (path === this.#buffers || !entry.isDirectory) continue;
        const stat = await Deno.stat(path).catch(() => undefined);
        if (stat && (stat.mtime?.getTime() ?? 0) < cutoff) {
          await Deno.remove(path, { recursive: true }).catch(() => {});
          removed++;
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return removed;
  }

  /** The upload id of a key of ours (its object, or one of its tails), else undefined. */
  #parseKey(key: string): { id: string; tail: boolean } | undefined {
    if (!key.startsWith(this.#prefix)) return undefined;
    const name = key.slice(this.#prefix.length);
    const mark = name.indexOf(TAIL_MARK);
    const id = mark < 0 ? name : name.slice(0, mark);
    return isUploadId(id) ? { id, tail: mark >= 0 } : undefined;
  }

  async #live(id: string): Promise<UploadRow> {
    const row = await this.#rows.get(id);
    if (!row || row.ended) throw new UploadError(404, "not-found", `Upload ${id} not found`);
    return row;
  }

  /** The running hash to continue at `offset`: kept, new (offset 0), or none (rehash later). */
  #hashFor(id: string, offset: number): RunningDigest | undefined {
    const kept = this.#hashes.get(id);
    if (kept?.length === offset) return kept;
    this.#hashes.forget(id);
    if (offset !== 0) return undefined;
    const state = offThreadDigest();
    this.#hashes.keep(id, state);
    return state;
  }

  /** Takes this instance's local copy of an upload's tail (the caller owns the file now). */
  #takeTail(id: string): CachedTail | undefined {
    const tail = this.#tails.get(id);
    if (!tail) return undefined;
    this.#tails.delete(id);
    this.#tailBytes -= tail.bytes;
    return tail;
  }

  #keepTail(id: string, tail: CachedTail): void {
    this.#dropTail(id);
    this.#tails.set(id, tail);
    this.#tailBytes += tail.bytes;
    for (const [old, t] of this.#tails) {
      if (this.#tailBytes <= TAIL_CACHE_BYTES) break;
      if (old === id) continue;
      this.#dropTail(old);
      void t;
    }
  }

  #dropTail(id: string): void {
    const tail = this.#takeTail(id);
    if (tail) void Deno.remove(tail.path).catch(() => {});
  }

  #writerDeps(): WriterDeps {
    return {
      s3: this.#s3,
      rows: this.#rows,
      key: (id) => this.objectKey(id),
      tailKey: (id) => `${this.objectKey(id)}${TAIL_MARK}${crypto.randomUUID().slice(0, 8)}`,
      buffers: this.#buffers,
      partSize: this.#partSize,
      now: this.#now,
      takeTail: (id) => this.#takeTail(id),
      keepTail: (id, tail) => this.#keepTail(id, tail),
    };
  }
}

interface WriterDeps {
  s3: S3Client;
  rows: UploadRows;
  key(id: string): string;
  tailKey(id: string): string;
  buffers: string;
  partSize: number;
  now(): number;
  takeTail(id: string): CachedTail | undefined;
  keepTail(id: string, tail: CachedTail): void;
}

/** One local buffer file: the bytes of the part being filled, and their SHA-256. */
interface PartBuffer {
  path: string;
  file: Deno.FsFile;
  out: FileWriter;
  sha: Hash;
}

/**
 * Writes one request's bytes into parts: fills a local buffer file (starting with the upload's
 * tail), uploads each full part while the next one fills (one part in flight), and records every
 * step in PostgreSQL only once S3 has it. `close` puts up what is left as the new tail, or as the
 * last part when the upload is complete.
 */
class PartWriter {
  readonly #deps: WriterDeps;
  readonly #hash: RunningDigest | undefined;
  #row: UploadRow;
  #buffer: PartBuffer | undefined;
  #started = false;
  /** Resolves once every sealed part is recorded (or failed). */
  #inFlight: Promise<void> | undefined;
  /** The number of the last part this writer took (parts are numbered when sealed). */
  #lastNumber: number | undefined;
  /** How many parts are uploading. */
  #uploading = 0;
  #freed: (() => void) | undefined;
  #failure: { error: unknown } | undefined;
  /** Buffer files not yet removed (for `discard`). */
  readonly #files = new Set<string>();

  constructor(deps: WriterDeps, row: UploadRow, hash: RunningDigest | undefined) {
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
      const buffer = this.#buffer ?? await this.#open();
      // (A tail written by an instance with larger parts may fill a part already.)
      const room = Math.max(0, this.#partSize - buffer.out.size);
      const piece = chunk.subarray(0, room);
      chunk = chunk.subarray(piece.length);
      await this.#hash?.update(piece);
      buffer.sha.update(piece);
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
    const left = buffer ? await this.#finishBuffer(buffer) : 0;
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
      await this.#deps.s3.putObject(this.#deps.key(this.#id), body);
      await this.#commit({ tail: null, completed: true });
      if (row.multipartId) await this.#abortQuietly(row.multipartId);
      await this.#removeFile(buffer.path);
    } else if (complete) {
      await this.#uploadPart(body);
      await this.#removeFile(buffer.path);
      await this.complete();
    } else {
      const key = this.#deps.tailKey(this.#id);
      await this.#deps.s3.putObject(key, body);
      await this.#commit({ tail: { key, bytes: left } });
      // Kept on this disk: the next PATCH here continues it without fetching it back.
      this.#files.delete(buffer.path);
      this.#deps.keepTail(this.#id, { key, path: buffer.path, bytes: left, sha: buffer.sha });
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
    const key = this.#deps.key(this.#id);
    if (this.#row.completed) return this.#row;
    if (this.#row.tailBytes > 0 || this.#row.partCount === 0) {
      const buffer = await this.#fetchTail();
      const left = await this.#finishBuffer(buffer);
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
    const cached = this.#deps.takeTail(this.#id);
    if (cached && cached.key === row.tailKey && cached.bytes === row.tailBytes) {
      const file = await Deno.open(cached.path, { read: true, write: true });
      await file.seek(0, Deno.SeekMode.End);
      this.#files.add(cached.path);
      return { path: cached.path, file, out: new FileWriter(file, cached.bytes), sha: cached.sha };
    }
    if (cached) await Deno.remove(cached.path).catch(() => {});
    const buffer = await this.#open();
    if (row.tailBytes > 0) {
      for await (const chunk of await this.#deps.s3.getObject(row.tailKey!, 0, row.tailBytes)) {
        buffer.sha.update(chunk);
        await buffer.out.push(chunk);
      }
      if (buffer.out.size !== row.tailBytes) {
        throw new Error(
          `The tail of upload ${this.#id} holds ${buffer.out.size} bytes, not ${row.tailBytes}`,
        );
      }
    }
    return buffer;
  }

  async #open(): Promise<PartBuffer> {
    const path = `${this.#deps.buffers}/${this.#id}.${crypto.randomUUID().slice(0, 8)}`;
    // Removed behind our back (by hand, or a sweep that took it for a dead process's): remake it.
    await Deno.mkdir(this.#deps.buffers, { recursive: true });
    const file = await Deno.open(path, { read: true, write: true, createNew: true });
    this.#files.add(path);
    this.#buffer = { path, file, out: new FileWriter(file), sha: createHash("sha256") };
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
    const size = await this.#finishBuffer(buffer);
    this.#check();
    if (!this.#row.multipartId) {
      await this.#settle();
      const key = this.#deps.key(this.#id);
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
      throw new UploadError(410, "gone", `Upload ${this.#id} has ended`);
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
      throw new UploadError(
        413,
        "too-many-parts",
        `Upload ${this.#id} would need more than ${MAX_PARTS} parts`,
      );
    }
    return await this.#deps.s3.uploadPart(
      this.#deps.key(this.#id),
      this.#row.multipartId!,
      part,
      body,
    );
  }

  /** Uploads the next part now (nothing else in flight) and records it. */
  async #uploadPart(body: { path: string; start: number; length: number; sha256: string }) {
    await this.#settle();
    if (!this.#row.multipartId) {
      const key = this.#deps.key(this.#id);
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
        throw new UploadError(404, "not-found", `Upload ${this.#id} not found`);
      }
      throw new UploadError(
        409,
        "conflict",
        `Upload ${this.#id} was changed by another request meanwhile; it holds ${
          offsetOf(now)
        } bytes`,
        { headers: { "Upload-Offset": String(offsetOf(now)) } },
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

  async #finishBuffer(buffer: PartBuffer): Promise<number> {
    await buffer.out.flush();
    buffer.file.close();
    return buffer.out.size;
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
    await this.#deps.s3.abortMultipartUpload(this.#deps.key(this.#id), multipartId).catch(() => {});
  }
}

/** Gathers small chunks into writes of up to 1 MiB; `size` counts everything pushed. */
class FileWriter {
  size: number;
  readonly #file: Deno.FsFile;
  readonly #buffer = new Uint8Array(WRITE_BUFFER);
  #buffered = 0;

  constructor(file: Deno.FsFile, size = 0) {
    this.#file = file;
    this.size = size;
  }

  async push(chunk: Uint8Array): Promise<void> {
    this.size += chunk.length;
    if (this.#buffered === 0 && chunk.length >= WRITE_BUFFER) {
      return await writeAll(this.#file, chunk);
    }
    while (chunk.length > 0) {
      const n = Math.min(chunk.length, WRITE_BUFFER - this.#buffered);
      this.#buffer.set(chunk.subarray(0, n), this.#buffered);
      this.#buffered += n;
      chunk = chunk.subarray(n);
      if (this.#buffered === WRITE_BUFFER) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.#buffered === 0) return;
    const n = this.#buffered;
    this.#buffered = 0;
    await writeAll(this.#file, this.#buffer.subarray(0, n));
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

/** The committed offset: recorded parts plus recorded tail (the whole length once completed). */
function offsetOf(row: UploadRow): number {
  if (row.ended) return 0;
  if (row.completed) return row.length ?? row.partsBytes + row.tailBytes;
  return row.partsBytes + row.tailBytes;
}

function infoOf(row: UploadRow): UploadInfo {
  const offset = offsetOf(row);
  return {
    id: row.id,
    ...(row.length === undefined ? {} : { length: row.length }),
    offset,
    metadata: row.metadata,
    createdAt: row.createdAt,
    updatedAt: row.ended?.at ?? row.updatedAt,
    ...(row.digests && offset === row.length ? { digests: row.digests } : {}),
    ...(row.concat ? { concat: row.concat } : {}),
    ...(row.owner === undefined ? {} : { owner: row.owner }),
    ...(row.ended ? { ended: row.ended } : {}),
  };
}

function empty(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

/**
 * Runs a store operation, turning an unreachable S3 or PostgreSQL into 503 (retry later; the
 * committed offset is unchanged) rather than a 500.
 */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UploadError) throw error;
    const s3Down = error instanceof S3Error && (error.status === 0 || error.status >= 500);
    const code = String((error as { code?: unknown } | null)?.code ?? "");
    const dbDown = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|CONNECTION_|CONNECT_TIMEOUT)/.test(code) ||
      code === "57P01"; // admin_shutdown
    if (s3Down || dbDown) {
      throw new UploadError(
        503,
        "storage-unavailable",
        `${s3Down ? "Object storage" : "The database"} is unavailable; retry shortly`,
        { headers: { "Retry-After": "5" }, cause: error },
      );
    }
    throw error;
  }
}
