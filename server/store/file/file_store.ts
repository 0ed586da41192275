import type { Digests } from "../../../lib/digest_header.ts";
import { spillFile } from "../spill_file.ts";
import {
  inlineDigest,
  offThreadDigest,
  type RunningDigest,
} from "../../../lib/deno/digest_pool.ts";
import {
  type AppendOutcome,
  type Ended,
  gone,
  isStorageFull,
  type NewUpload,
  notFound,
  partGone,
  type Spill,
  type StorageLocation,
  StoreError,
  type UploadInfo,
  type UploadStore,
} from "../types.ts";
import { HashCache } from "../hash_cache.ts";
import { WRITE_BUFFER } from "../write_buffer.ts";
import { DataWriter } from "./data_writer.ts";
import { FanOutDirs } from "./fan_out.ts";
import { collectGarbage } from "./garbage.ts";
import type { GroupSync } from "./group_sync.ts";
import { infoOf, type InfoRecord, readRecord, toRecord } from "./info_record.ts";
import {
  basename,
  INFO_SUFFIX,
  TMP_SUFFIX,
  type UploadPaths,
  uploadPaths,
  walk,
} from "./layout.ts";
import { readRange } from "./read_range.ts";
import { Syncer } from "./syncer.ts";

/**
 * Uploads as plain files: `<dir>/<id[0:2]>/<id[2:4]>/<id>` holds the bytes and `<id>.info` the
 * JSON info. The offset is the data file's size, so data and offset can never disagree. Info is
 * replaced atomically (temp file, fsync, rename, fsync the directory); data is fsynced before an
 * append returns.
 */
export class FileStore implements UploadStore {
  readonly dir: string;
  /** id → MD5/SHA-256 of the first `length` bytes; used only under the upload's lock. */
  readonly #hashes = new HashCache();

  readonly #onSync: ((seconds: number) => void) | undefined;
  /** Durability: one shared syncfs per group of requests, or (undefined) an fsync per file. */
  readonly #sync: Syncer;
  readonly #dirs: FanOutDirs;

  readonly #fence: boolean;

  private constructor(
    dir: string,
    onSync?: (seconds: number) => void,
    group?: GroupSync,
    fence = false,
  ) {
    this.dir = dir.replace(/\/+$/, "") || "/";
    this.#fence = fence;
    this.#onSync = onSync;
    this.#sync = new Syncer(group);
    this.#dirs = new FanOutDirs(this.dir, this.#sync);
  }

  /** Opens (creating if needed) a store rooted at `dir`; `onSync` hears how long data fsyncs take. */
  static async open(
    dir: string,
    onSync?: (seconds: number) => void,
    group?: GroupSync,
    options: { fence?: boolean } = {},
  ): Promise<FileStore> {
    await Deno.mkdir(dir, { recursive: true });
    return new FileStore(dir, onSync, group, options.fence);
  }

  /** Group commit in use (a syncfs shared by concurrent requests) rather than per-file fsyncs. */
  get groupCommit(): boolean {
    return this.#sync.group !== undefined;
  }

  #paths(id: string): UploadPaths {
    return uploadPaths(this.dir, id);
  }

  async create(upload: NewUpload): Promise<UploadInfo> {
    const { sub, data, info } = this.#paths(upload.id);
    await this.#dirs.ensure(sub);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(data, { createNew: true, write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // A fan-out directory removed behind our back: forget what we knew and make it again.
      this.#dirs.forget();
      await this.#dirs.ensure(sub);
      file = await Deno.open(data, { createNew: true, write: true });
    }
    file.close();
    // The info's rename makes the upload exist; the directory fsync makes both entries durable.
    await this.#sync.replace(info, toRecord(upload));
    await this.#sync.dir(sub);
    return { ...upload, offset: 0, updatedAt: Date.now() };
  }

  async get(id: string): Promise<UploadInfo | undefined> {
    const { data, info } = this.#paths(id);
    let record: InfoRecord;
    try {
      record = await readRecord(info, data);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      if (error instanceof StoreError) throw error;
      throw new Error(`Upload info ${info} is unreadable`, { cause: error });
    }
    if (record.ended) return { ...infoOf(record, 0, record.ended.at), ended: record.ended };
    let offset = 0;
    let updatedAt = record.createdAt;
    try {
      const stat = await Deno.stat(data);
      offset = stat.size;
      updatedAt = stat.mtime?.getTime() ?? updatedAt;
    } catch (error) {
      // Data removed behind our back: like a truncation to zero; the next append recreates it.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return infoOf(record, offset, updatedAt);
  }

  async append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome> {
    const { data } = this.#paths(id);
    using file = await Deno.open(data, { read: true, write: true, create: true });
    // Instances sharing this directory (--db): a writer whose database lock was lost unnoticed
    // still can't write beside the new one — the file lock waits for it, then the size decides.
    if (this.#fence) await file.lock(true);
    const size = (await file.stat()).size;
    if (size !== offset) return { kind: "offset-mismatch", offset: size };
    if (body === null) return { kind: "appended", offset };
    return await this.#hashes.busy(id, () => this.#appendTo(id, data, file, offset, body));
  }

  /** A body being verified is staged beside the data; collectGarbage removes it if left. */
  spill(id: string): Spill {
    return spillFile(
      `${this.#paths(id).data}.${crypto.randomUUID().slice(0, 8)}.chunk${TMP_SUFFIX}`,
    );
  }

  async #appendTo(
    id: string,
    data: string,
    file: Deno.FsFile,
    offset: number,
    body: ReadableStream<Uint8Array>,
  ): Promise<AppendOutcome> {
    if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
    // The running hash is picked up (or rebuilt) only once a byte is about to be written.
    const out = new DataWriter(
      file,
      offset,
      (whole) => this.#hashAt(id, file, offset, whole),
      data,
    );
    let syncing = false;
    try {
      for await (const chunk of body) await out.push(chunk);
      await out.flush();
      syncing = true;
      const synced = await out.end();
      if (out.written > 0) {
        const started = performance.now();
        await this.#sync.data(file, out.written);
        this.#onSync?.((performance.now() - started) / 1000);
      }
      if (!synced) throw new Error(`An early fdatasync of upload ${id} failed`);
      return { kind: "appended", offset: offset + out.written };
    } catch (error) {
      // A failed write may have left part of its bytes: cut back to what was fully written. A
      // failed fsync makes none of this request's bytes durable: cut back to where it started.
      this.#hashes.forget(id);
      await out.end();
      await file.truncate(offset + (syncing ? 0 : out.written)).catch(() => {});
      await file.syncData().catch(() => {});
      throw error;
    }
  }

  async finish(id: string): Promise<Digests> {
    const { data, info } = this.#paths(id);
    const record = await readRecord(info, data).catch((error) => {
      throw error instanceof Deno.errors.NotFound ? notFound(id) : error;
    });
    // A running hash means bytes were appended since any recorded digests: recompute.
    const kept = this.#hashes.get(id);
    if (record.digests && !kept) return record.digests;
    // The state leaves the cache before it is awaited: an eviction meanwhile would drop it and
    // leave this request (and the lock it holds) waiting forever.
    let state: RunningDigest;
    if (kept && kept.length === record.length) {
      // Complete under our lock just now: the running hash covers exactly the stored bytes.
      state = this.#hashes.take(id)!;
    } else {
      using file = await Deno.open(data, { read: true });
      state = await this.#hashAt(id, file, (await file.stat()).size);
      this.#hashes.take(id);
    }
    const digests = await state.digest();
    // Digests are derived from the data: the info is replaced atomically (its temp file fsynced,
    // so it is never torn) but the directory is not fsynced — a crash may undo the rename, and
    // the digests are then computed again from the bytes. One fsync less per completed upload.
    await this.#sync.replace(info, { ...record, digests });
    return digests;
  }

  /**
   * The running hash of the first `offset` bytes, rehashing them from the file if it was lost.
   * `small`: a new upload's whole first body, already at hand (≤ 1 MiB): hashed right here.
   */
  async #hashAt(
    id: string,
    file: Deno.FsFile,
    offset: number,
    small = false,
  ): Promise<RunningDigest> {
    const kept = this.#hashes.get(id);
    // An inline state is for a small first body only: an upload that goes on is hashed on the
    // worker, its (≤ 1 MiB) prefix read back once.
    if (kept?.length === offset && !(kept.inline && offset > 0)) return kept;
    this.#hashes.forget(id);
    const state = small && offset === 0 ? inlineDigest() : offThreadDigest();
    if (offset > 0) {
      await file.seek(0, Deno.SeekMode.Start);
      const buffer = new Uint8Array(WRITE_BUFFER);
      while (state.length < offset) {
        const n = await file.read(
          buffer.subarray(0, Math.min(buffer.length, offset - state.length)),
        );
        if (n === null) throw new Error(`Upload ${id} is shorter than ${offset} bytes`);
        await state.update(buffer.subarray(0, n));
      }
    }
    this.#hashes.keep(id, state);
    return state;
  }

  async declareLength(id: string, length: number): Promise<void> {
    await this.#update(id, (record) => {
      if (record.ended) throw gone(id);
      return { ...record, length };
    });
  }

  async addFinal(partId: string, finalId: string): Promise<void> {
    await this.#update(partId, (record) => {
      if (record.ended) throw partGone(partId);
      const finals = record.concat?.kind === "partial" ? record.concat.finals ?? [] : [];
      if (finals.includes(finalId)) return record;
      return { ...record, concat: { kind: "partial", finals: [...finals, finalId] } };
    }, partGone);
  }

  async assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    return await this.#hashes.busy(finalId, () => this.#assemble(finalId, parts));
  }

  async #assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    const { data } = this.#paths(finalId);
    using file = await Deno.open(data, { read: true, write: true, create: true });
    let offset = (await file.stat()).size;
    await file.seek(offset, Deno.SeekMode.Start);
    const start = offset;
    const out = new DataWriter(file, offset, () => this.#hashAt(finalId, file, start));
    const piece = new Uint8Array(WRITE_BUFFER);
    let base = 0;
    try {
      for (const part of parts) {
        const end = base + part.length;
        if (offset + out.pushed < end) {
          using source = await Deno.open(this.#paths(part.id).data, { read: true });
          await source.seek(offset + out.pushed - base, Deno.SeekMode.Start);
          while (offset + out.pushed < end) {
            const want = Math.min(piece.length, end - offset - out.pushed);
            const n = await source.read(piece.subarray(0, want));
            if (n === null) throw new Error(`Part ${part.id} is shorter than ${part.length} bytes`);
            await out.push(piece.subarray(0, n));
          }
        }
        base = end;
      }
      await out.flush();
    } catch (error) {
      this.#hashes.forget(finalId);
      await out.end(); // a piece still being written lands before the cut, not after it
      await file.truncate(offset + out.written).catch(() => {});
      throw error;
    } finally {
      if (out.written > 0) await file.syncData();
    }
    offset += out.written;
    return offset;
  }

  /** Replaces an upload's info atomically with `change(info)`; `missing(id)` when it has none. */
  async #update(
    id: string,
    change: (record: InfoRecord) => InfoRecord,
    missing: (id: string) => Error = gone,
  ): Promise<void> {
    const { sub, data, info } = this.#paths(id);
    let record: InfoRecord;
    try {
      record = await readRecord(info, data);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw missing(id);
    }
    await this.#sync.replace(info, change(record));
    await this.#sync.dir(sub);
  }

  async remove(id: string, ended?: Ended): Promise<boolean> {
    const { sub, data, info } = this.#paths(id);
    this.#hashes.forget(id);
    let record: InfoRecord;
    try {
      record = await readRecord(info, data);
      // First the info: the upload stops existing (or becomes a tombstone, below) at once.
      if (!ended) await Deno.remove(info);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    if (record.ended) {
      // Ended before, maybe cut short by a crash before its bytes went: they go now.
      await Deno.remove(data).catch(() => {});
      return false;
    }
    const tombstone = ended ? { ...record, ended } : undefined;
    if (tombstone) {
      try {
        await this.#sync.replace(info, tombstone);
      } catch (error) {
        if (!isStorageFull(error)) throw error;
        await this.#removeOnFullDisk(id, tombstone);
        return true;
      }
    }
    // The info step is durable before the bytes go: a crash can't leave a live upload without
    // its bytes (it would come back empty).
    await this.#sync.dir(sub);
    await this.#removeData(id);
    return true;
  }

  /**
   * Termination with no room for the tombstone: freeing space must not need space. The info goes
   * first (unlinking takes none), then the bytes, and then the tombstone is written into the room
   * they left. If even that fails, the upload is just gone: unknown (404), not terminated (410).
   */
  async #removeOnFullDisk(id: string, tombstone: InfoRecord): Promise<void> {
    const { sub, info } = this.#paths(id);
    await Deno.remove(info);
    await this.#sync.dir(sub);
    await this.#removeData(id);
    await this.#sync.replace(info, tombstone).then(() => this.#sync.dir(sub), () => {});
  }

  async #removeData(id: string): Promise<void> {
    const { sub, data } = this.#paths(id);
    await Deno.remove(data).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await this.#sync.dir(sub);
  }

  async read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    return await readRange(this.#paths(id).data, start, end).catch((error) => {
      throw error instanceof Deno.errors.NotFound ? notFound(id) : error;
    });
  }

  /** The data file: `<dir>/<id[0:2]>/<id[2:4]>/<id>`. */
  location(id: string): StorageLocation {
    return { type: "file", path: this.#paths(id).data };
  }

  async *list(): AsyncIterable<string> {
    for await (const path of walk(this.dir)) {
      if (path.endsWith(INFO_SUFFIX)) yield basename(path).slice(0, -INFO_SUFFIX.length);
    }
  }

  collectGarbage(cutoff: number, endedBefore = cutoff): Promise<number> {
    return collectGarbage(this.dir, cutoff, endedBefore);
  }
}
