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
import { spillFile } from "../spill_file.ts";
import type { Digests } from "../../../lib/digest_header.ts";
import { offThreadDigest, type RunningDigest } from "../../../lib/deno/digest_pool.ts";
import { HashCache } from "../hash_cache.ts";
import { WriteBuffer } from "../write_buffer.ts";
import type { UploadRow, UploadRows } from "../pg_info.ts";
import {
  type AppendOutcome,
  type Ended,
  gone,
  type NewUpload,
  notFound,
  partGone,
  type Spill,
  StoreError,
  type UploadInfo,
  type UploadStore,
} from "../types.ts";
import { sweepBucket, sweepBuffers } from "./garbage.ts";
import { ObjectKeys } from "./keys.ts";
import { PartWriter, type PartWriterContext, WriteStopped } from "./part_writer.ts";
import { infoOf, offsetOf } from "./rows.ts";
import type { S3Client } from "./s3_client.ts";
import { TailCache } from "./tail_cache.ts";
import { guard } from "./unavailable.ts";

/** How often this process marks its buffer directory as alive (the sweep spares it). */
const HEARTBEAT_MS = 5 * 60_000;
/** Least time between two scans of the bucket for leftovers. */
const SCAN_INTERVAL_MS = 3_600_000;

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

export class S3Store implements UploadStore {
  readonly #s3: S3Client;
  readonly #rows: UploadRows;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #root: string;
  readonly #now: () => number;
  /** What this store's part writers work with (the tail cache among it). */
  readonly #writing: PartWriterContext;
  /** id → MD5/SHA-256 of the first `length` bytes, fed by this instance's appends. */
  readonly #hashes = new HashCache();
  #scannedAt = -Infinity;

  private constructor(options: S3StoreOptions, buffers: string) {
    this.#s3 = options.s3;
    this.#rows = options.rows;
    this.#root = `${options.dir.replace(/\/+$/, "")}/s3-buffer`;
    this.#now = options.now ?? Date.now;
    this.#writing = {
      s3: options.s3,
      rows: options.rows,
      keys: new ObjectKeys(options.prefix ?? ""),
      tails: new TailCache(),
      buffers,
      partSize: options.partSize,
      now: this.#now,
    };
    // Other instances sharing --dir sweep buffer directories untouched for an hour: say we live.
    this.#heartbeat = setInterval(() => {
      const now = new Date();
      Deno.utime(buffers, now, now).catch(() => {});
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
    this.#writing.tails.clear();
    this.#hashes.clear();
    await Deno.remove(this.#writing.buffers, { recursive: true }).catch(() => {});
  }

  /** The object an upload ends up as (and the key of its multipart upload). */
  objectKey(id: string): string {
    return this.#writing.keys.object(id);
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
  ): Promise<AppendOutcome> {
    return await guard(async () => {
      const row = await this.#live(id);
      const stored = offsetOf(row);
      if (stored !== offset) return { kind: "offset-mismatch", offset: stored };
      if (body === null) return { kind: "appended", offset };
      return await this.#hashes.busy(id, () => this.#write(row, body));
    });
  }

  /** A body being verified is staged in this process's buffer directory. */
  spill(id: string): Spill {
    return spillFile(`${this.#writing.buffers}/${id}.${crypto.randomUUID().slice(0, 8)}.chunk`);
  }

  async #write(row: UploadRow, body: ReadableStream<Uint8Array>): Promise<AppendOutcome> {
    const offset = offsetOf(row);
    if (row.completed) {
      // A completed upload (one object now) takes no more bytes.
      for await (const chunk of body) {
        if (chunk.length > 0) {
          return { kind: "no-room", offset, reason: `Upload ${row.id} is complete` };
        }
      }
      return { kind: "appended", offset };
    }
    const writer = new PartWriter(this.#writing, row, this.#hashFor(row.id, offset));
    try {
      for await (const chunk of body) await writer.push(chunk);
      return { kind: "appended", offset: offsetOf(await writer.close()) };
    } catch (error) {
      this.#hashes.forget(row.id);
      await writer.discard();
      if (!(error instanceof WriteStopped)) throw error;
      const now = offsetOf(await this.#live(row.id));
      return error.kind === "no-room"
        ? { kind: "no-room", offset: now, reason: error.message }
        : { kind: "offset-mismatch", offset: now };
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
        // Whole write buffers, not network-sized chunks: each update holds a piece while hashed.
        const feed = new WriteBuffer((bytes) => state.update(bytes));
        try {
          for await (const chunk of await this.#s3.getObject(this.objectKey(id))) {
            await feed.push(chunk);
          }
          await feed.flush();
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
      throw new StoreError(
        "incomplete",
        `Upload ${row.id} is incomplete: ${offsetOf(row)} of ${row.length ?? "?"} bytes stored`,
      );
    }
    const writer = new PartWriter(this.#writing, row, undefined);
    try {
      return await writer.complete();
    } catch (error) {
      await writer.discard();
      if (!(error instanceof WriteStopped)) throw error;
      // Another instance completed it meanwhile: fine if so.
      const now = await this.#live(row.id);
      if (now.completed) return now;
      throw new StoreError("conflict", error.message);
    }
  }

  async declareLength(id: string, length: number): Promise<void> {
    await guard(async () => {
      if (!(await this.#rows.setLength(id, length))) throw gone(id);
    });
  }

  async addFinal(partId: string, finalId: string): Promise<void> {
    await guard(async () => {
      if (!(await this.#rows.addFinal(partId, finalId))) throw partGone(partId);
    });
  }

  async assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    let offset = offsetOf(await guard(() => this.#live(finalId)));
    let base = 0;
    for (const part of parts) {
      const end = base + part.length;
      if (offset < end) {
        const bytes = await this.read(part.id, offset - base, part.length);
        const result = await this.append(finalId, offset, bytes);
        if (result.kind !== "appended" || result.offset !== end) {
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
      this.#writing.tails.drop(id);
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
          throw new StoreError(
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
      removed += await sweepBucket(this.#s3, this.#rows, this.#writing.keys, cutoff);
      removed += await sweepBuffers(this.#root, this.#writing.buffers, cutoff);
      return removed;
    });
  }

  async #live(id: string): Promise<UploadRow> {
    const row = await this.#rows.get(id);
    if (!row || row.ended) throw notFound(id);
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
}

function empty(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}
