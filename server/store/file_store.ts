import { checksumHashes } from "../../lib/checksum.ts";
import type { Digests } from "../../lib/digest.ts";
import { inlineDigest, offThreadDigest, type RunningDigest } from "../../lib/digest_pool.ts";
import { toUploadError, UploadError } from "../../lib/errors.ts";
import type {
  AppendOptions,
  AppendResult,
  Concat,
  Ended,
  NewUpload,
  StorageLocation,
  UploadInfo,
  UploadStore,
} from "./types.ts";
import { outcomeOf, pumpBody } from "./body.ts";
import { HashCache } from "./hash_cache.ts";
import { corruptRecord } from "./corrupt_record.ts";
import type { GroupSync } from "./group_sync.ts";
import { openWriteback, type Writeback, WRITEBACK_STEP } from "./writeback.ts";

/** Bytes gathered before one write(2); bounds memory per request. */
const WRITE_BUFFER = 1024 * 1024;
const INFO_SUFFIX = ".info";
const TMP_SUFFIX = ".tmp";

interface InfoRecord {
  v: 1;
  id: string;
  length?: number;
  metadata: string;
  createdAt: number;
  digests?: Digests;
  concat?: Concat;
  owner?: string;
  ended?: Ended;
}

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
  /** Fan-out directories known to exist (at most 65,536 + 256 entries). */
  readonly #dirs = new Map<string, Promise<void>>();

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

  #paths(id: string) {
    const sub = `${this.dir}/${id.slice(0, 2)}/${id.slice(2, 4)}`;
    return { sub, data: `${sub}/${id}`, info: `${sub}/${id}${INFO_SUFFIX}` };
  }

  async create(upload: NewUpload): Promise<UploadInfo> {
    const { sub, data, info } = this.#paths(upload.id);
    await this.#ensureDir(sub);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(data, { createNew: true, write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // A fan-out directory removed behind our back: forget what we knew and make it again.
      this.#dirs.clear();
      await this.#ensureDir(sub);
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
      if (error instanceof UploadError) throw error;
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
    options: AppendOptions,
  ): Promise<AppendResult> {
    const { data } = this.#paths(id);
    using file = await Deno.open(data, { read: true, write: true, create: true });
    // Instances sharing this directory (--db): a writer whose database lock was lost unnoticed
    // still can't write beside the new one — the file lock waits for it, then the size decides.
    if (this.#fence) await file.lock(true);
    const size = (await file.stat()).size;
    if (size !== offset) {
      throw new UploadError(
        409,
        "offset-mismatch",
        `Upload ${id} holds ${size} bytes, not ${offset}`,
        {
          headers: { "Upload-Offset": String(size) },
        },
      );
    }
    if (body === null) return { offset, overflow: false, stopped: false };
    return await this.#hashes.busy(
      id,
      () => this.#appendTo(id, data, file, offset, body, options),
    );
  }

  async #appendTo(
    id: string,
    data: string,
    file: Deno.FsFile,
    offset: number,
    body: ReadableStream<Uint8Array>,
    options: AppendOptions,
  ): Promise<AppendResult> {
    if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
    // The running hash is picked up (or rebuilt) only once a byte is about to be written.
    const out = new BufferedWriter(
      file,
      offset,
      (whole) => this.#hashAt(id, file, offset, whole),
      data,
    );
    let syncing = false;
    const durable = async () => {
      syncing = true;
      await out.endWriteback();
      if (out.written === 0) return;
      const started = performance.now();
      await this.#sync.data(file, out.written);
      this.#onSync?.((performance.now() - started) / 1000);
    };
    try {
      const { checksum } = options;
      if (!checksum) {
        const pumped = await pumpBody(body, options, (chunk) => out.push(chunk));
        await out.flush();
        await durable();
        return { ...outcomeOf(pumped), offset: offset + out.written };
      }
      // Checksummed: stage the body, verify it, and only then append it, so the data file never
      // holds an unverified byte (a crash mid-check leaves it as it was). Up to one write buffer
      // (1 MiB) stays in memory; a larger body spills to a temp file beside the data.
      const staged = `${data}.${crypto.randomUUID().slice(0, 8)}.chunk${TMP_SUFFIX}`;
      let tmp: Deno.FsFile | undefined;
      try {
        const memory: Uint8Array[] = [];
        let inMemory = 0;
        let stage: BufferedWriter | undefined;
        const sums = checksumHashes(checksum.algorithm);
        const pumped = await pumpBody(body, options, async (chunk) => {
          for (const h of sums.values()) h.update(chunk);
          if (!stage && inMemory + chunk.length <= WRITE_BUFFER) {
            memory.push(chunk.slice());
            inMemory += chunk.length;
            return;
          }
          if (!stage) {
            tmp = await Deno.open(staged, { read: true, write: true, createNew: true });
            stage = new BufferedWriter(tmp, 0);
            for (const m of memory.splice(0)) await stage.push(m);
          }
          await stage.push(chunk);
        });
        await stage?.flush();
        if (pumped.overflow || pumped.stopped || pumped.bodyError !== undefined) {
          return { ...outcomeOf(pumped), offset }; // a partial chunk can't be verified
        }
        const expected = await checksum.expected();
        if (sums.get(expected.algorithm)?.digest("base64") !== expected.digest) {
          return { ...outcomeOf(pumped), offset, checksumMismatch: true };
        }
        for (const m of memory) await out.push(m);
        if (tmp) {
          await tmp.seek(0, Deno.SeekMode.Start);
          const piece = new Uint8Array(WRITE_BUFFER);
          for (let n = await tmp.read(piece); n !== null; n = await tmp.read(piece)) {
            await out.push(piece.subarray(0, n));
          }
        }
        await out.flush();
        await durable();
        return { ...outcomeOf(pumped), offset: offset + out.written };
      } finally {
        if (tmp) {
          (tmp as Deno.FsFile).close();
          await Deno.remove(staged).catch(() => {});
        }
      }
    } catch (error) {
      // A failed write may have left part of its bytes: cut back to what was fully written. A
      // failed fsync makes none of this request's bytes durable: cut back to where it started.
      this.#hashes.forget(id);
      await out.endWriteback();
      await file.truncate(offset + (syncing ? 0 : out.written)).catch(() => {});
      await file.syncData().catch(() => {});
      throw error;
    }
  }

  async finish(id: string): Promise<Digests> {
    const { data, info } = this.#paths(id);
    const record = await readRecord(info, data);
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
    await this.#update(id, (record) => ({ ...record, length }));
  }

  async addFinal(partId: string, finalId: string): Promise<void> {
    await this.#update(partId, (record) => {
      if (record.ended) throw new UploadError(410, "part-gone", `Part ${partId} no longer exists`);
      const finals = record.concat?.kind === "partial" ? record.concat.finals ?? [] : [];
      if (finals.includes(finalId)) return record;
      return { ...record, concat: { kind: "partial", finals: [...finals, finalId] } };
    });
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
    const out = new BufferedWriter(file, offset, () => this.#hashAt(finalId, file, start));
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
      await file.truncate(offset + out.written).catch(() => {});
      throw error;
    } finally {
      if (out.written > 0) await file.syncData();
    }
    offset += out.written;
    return offset;
  }

  /** Replaces an upload's info atomically with `change(info)`. */
  async #update(id: string, change: (record: InfoRecord) => InfoRecord): Promise<void> {
    const { sub, data, info } = this.#paths(id);
    let record: InfoRecord;
    try {
      record = await readRecord(info, data);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new UploadError(410, "gone", `Upload ${id} no longer exists`);
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
        if (toUploadError(error).status !== 507) throw error;
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
    const file = await Deno.open(this.#paths(id).data, { read: true });
    await file.seek(start, Deno.SeekMode.Start);
    let left = end - start;
    return new ReadableStream<Uint8Array>({
      type: "bytes",
      async pull(controller) {
        const chunk = new Uint8Array(Math.min(left, 256 * 1024));
        const n = chunk.length === 0 ? null : await file.read(chunk);
        if (n === null) {
          file.close();
          if (left > 0) controller.error(new Error(`Upload ${id} is shorter than expected`));
          else controller.close();
          return;
        }
        left -= n;
        controller.enqueue(chunk.subarray(0, n));
      },
      cancel() {
        file.close();
      },
    });
  }

  /** The data file: `<dir>/<id[0:2]>/<id[2:4]>/<id>`. */
  location(id: string): StorageLocation {
    return { type: "file", path: this.#paths(id).data };
  }

  /** Creates the fan-out directories, making each parent's new entry durable. */
  async #ensureDir(path: string): Promise<void> {
    // One promise per directory: a request finding it being made waits until its entry is
    // durable (seeing it exist is not enough).
    let made = this.#dirs.get(path);
    if (!made) {
      made = this.#makeDir(path);
      this.#dirs.set(path, made);
      made.catch(() => this.#dirs.delete(path));
    }
    await made;
  }

  async #makeDir(path: string): Promise<void> {
    if (await exists(path)) return;
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    if (parent.length > this.dir.length) await this.#ensureDir(parent);
    try {
      await Deno.mkdir(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    await this.#sync.dir(parent);
  }

  async *list(): AsyncIterable<string> {
    for await (const path of this.#walk()) {
      if (path.endsWith(INFO_SUFFIX)) yield basename(path).slice(0, -INFO_SUFFIX.length);
    }
  }

  async collectGarbage(cutoff: number, endedBefore = cutoff): Promise<number> {
    let removed = 0;
    for await (const path of this.#walk()) {
      const name = basename(path);
      if (name.endsWith(INFO_SUFFIX)) {
        // A damaged record is not collected: its repair is the operator's (requests log it).
        const record = await readRecord(path, path.slice(0, -INFO_SUFFIX.length)).catch(() =>
          undefined
        );
        if (record?.ended && record.ended.at < endedBefore) {
          await Deno.remove(path).catch(() => {});
          removed++;
        }
        continue;
      }
      const orphan = name.endsWith(TMP_SUFFIX) ||
        (!name.includes(".") && !(await exists(path + INFO_SUFFIX)));
      if (!orphan) continue;
      const stat = await Deno.stat(path).catch(() => undefined);
      if (stat && (stat.mtime?.getTime() ?? 0) < cutoff) {
        await Deno.remove(path).catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  /** Every file in the fan-out directories (two levels of two hex characters). */
  async *#walk(): AsyncIterable<string> {
    const fanout = /^[0-9a-f]{2}$/;
    for await (const a of readDirSafe(this.dir)) {
      if (!a.isDirectory || !fanout.test(a.name)) continue;
      for await (const b of readDirSafe(`${this.dir}/${a.name}`)) {
        if (!b.isDirectory || !fanout.test(b.name)) continue;
        const sub = `${this.dir}/${a.name}/${b.name}`;
        for await (const f of readDirSafe(sub)) if (f.isFile) yield `${sub}/${f.name}`;
      }
    }
  }
}

/**
 * Gathers small network chunks into writes of up to 1 MiB (bounded memory per request) and feeds
 * the running hash with exactly the bytes written. Given the file's path, it starts the kernel's
 * writeback of each few MiB written (`writeback.ts`), so the fsync at the end has little left.
 */
class BufferedWriter {
  written = 0;
  readonly #file: Deno.FsFile;
  readonly #start: number;
  readonly #startHash: ((whole: boolean) => Promise<RunningDigest>) | undefined;
  #hash: RunningDigest | undefined;
  readonly #buffer = new Uint8Array(WRITE_BUFFER);
  #buffered = 0;
  #path: string | undefined;
  #writeback: Writeback | undefined;

  /**
   * Writes from `start` on; `startHash` gives the running hash of what precedes it, told whether
   * the first write is the whole body (a small body, all buffered); `path` enables writeback.
   */
  constructor(
    file: Deno.FsFile,
    start: number,
    startHash?: (whole: boolean) => Promise<RunningDigest>,
    path?: string,
  ) {
    this.#file = file;
    this.#start = start;
    this.#startHash = startHash;
    this.#path = path;
  }

  /** Stops starting writeback (waiting for the request under way); call before the fsync. */
  async endWriteback(): Promise<void> {
    const writeback = this.#writeback;
    this.#writeback = undefined;
    this.#path = undefined;
    await writeback?.close();
  }

  /** Bytes taken so far, written or still buffered. */
  get pushed(): number {
    return this.written + this.#buffered;
  }

  async push(chunk: Uint8Array): Promise<void> {
    if (this.#buffered === 0 && chunk.length >= this.#buffer.length) {
      return this.#write(chunk, false);
    }
    while (chunk.length > 0) {
      const n = Math.min(chunk.length, this.#buffer.length - this.#buffered);
      this.#buffer.set(chunk.subarray(0, n), this.#buffered);
      this.#buffered += n;
      chunk = chunk.subarray(n);
      if (this.#buffered === this.#buffer.length) await this.flush(false);
    }
  }

  /** Writes what is buffered; `last`: the body has ended (the default). */
  async flush(last = true): Promise<void> {
    if (this.#buffered === 0) return;
    const n = this.#buffered;
    this.#buffered = 0;
    await this.#write(this.#buffer.subarray(0, n), last);
  }

  async #write(bytes: Uint8Array, last: boolean): Promise<void> {
    if (this.#startHash && !this.#hash) {
      this.#hash = await this.#startHash(last && this.written === 0);
      // Rebuilding the hash of a prefix reads the file: put the position back.
      if (this.#start > 0) await this.#file.seek(this.#start + this.written, Deno.SeekMode.Start);
    }
    await writeAll(this.#file, bytes);
    this.written += bytes.length;
    // Only a body of several MiB is worth the second descriptor.
    if (this.#path && !this.#writeback && this.written >= WRITEBACK_STEP) {
      this.#writeback = openWriteback(this.#path, this.#start);
      if (!this.#writeback) this.#path = undefined;
    }
    this.#writeback?.advance(this.#start + this.written);
    await this.#hash?.update(bytes);
  }
}

function infoOf(record: InfoRecord, offset: number, updatedAt: number): UploadInfo {
  return {
    id: record.id,
    ...(record.length === undefined ? {} : { length: record.length }),
    offset,
    metadata: record.metadata,
    createdAt: record.createdAt,
    updatedAt,
    // Digests describe the complete bytes; after an external truncation they are stale.
    ...(record.digests && offset === record.length ? { digests: record.digests } : {}),
    ...(record.concat ? { concat: record.concat } : {}),
    ...(record.owner === undefined ? {} : { owner: record.owner }),
  };
}

/**
 * An upload's info record. A missing or unreadable file throws the file system's error; text that
 * is not a record is a corrupt record naming both files.
 */
async function readRecord(info: string, data: string): Promise<InfoRecord> {
  const text = await Deno.readTextFile(info);
  try {
    const record = JSON.parse(text);
    if (
      record?.v !== 1 || typeof record.id !== "string" || typeof record.metadata !== "string" ||
      typeof record.createdAt !== "number"
    ) throw new TypeError("not an upload info record");
    return record;
  } catch (error) {
    throw corruptRecord(`Upload info ${info}`, `remove or fix it; the data file is ${data}`, error);
  }
}

function toRecord(upload: NewUpload): InfoRecord {
  return {
    v: 1,
    id: upload.id,
    ...(upload.length === undefined ? {} : { length: upload.length }),
    metadata: upload.metadata,
    createdAt: upload.createdAt,
    ...(upload.concat ? { concat: upload.concat } : {}),
    ...(upload.owner === undefined ? {} : { owner: upload.owner }),
  };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

/** Small bodies (and all metadata) use the group commit; a bigger append fsyncs its own file. */
const GROUP_DATA_MAX = WRITE_BUFFER;

/**
 * How writes are made durable: with a GroupSync, by a shared syncfs of the filesystem (each
 * caller waits for one that starts after its writes); without, by fsyncing each file and
 * directory. The order of durable steps is the same either way.
 */
class Syncer {
  readonly group: GroupSync | undefined;

  constructor(group: GroupSync | undefined) {
    this.group = group;
  }

  /** The data appended to `file` (`bytes` of it) is durable on return. */
  async data(file: Deno.FsFile, bytes: number): Promise<void> {
    if (this.group && bytes <= GROUP_DATA_MAX) await this.group.sync();
    else await file.syncData();
  }

  /** `path`'s entries (created, renamed, removed files) are durable on return. */
  async dir(path: string): Promise<void> {
    if (this.group) return await this.group.sync();
    using dir = await Deno.open(path, { read: true });
    await dir.sync();
  }

  /**
   * Replaces `path` atomically: writes a temp file, makes it durable, renames it over. Never
   * torn, even across a crash; the caller makes the rename durable (`dir`) when it must be.
   */
  async replace(path: string, record: InfoRecord): Promise<void> {
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}${TMP_SUFFIX}`;
    try {
      using file = await Deno.open(tmp, { createNew: true, write: true });
      await writeAll(file, new TextEncoder().encode(JSON.stringify(record)));
      if (this.group) await this.group.sync();
      else await file.sync();
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw error;
    }
    await Deno.rename(tmp, path);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function* readDirSafe(path: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
