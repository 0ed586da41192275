import {
  adoptPiece,
  type RunningDigest,
  sparePieces,
  takePiece,
} from "../../../lib/deno/digest_pool.ts";
import { writeAll, WriteBuffer } from "../write_buffer.ts";
import { type DirectFile, directPart, openDirect } from "./direct_write.ts";
import { type EarlySync, openEarlySync } from "./early_sync.ts";

/**
 * Writes a body into an upload's data file from `start` (through the one WriteBuffer), feeding
 * the running hash with exactly the bytes written. Given the file's path, it writes whole aligned
 * blocks directly to the disk (`direct_write.ts`), and syncs what a longer body has written while
 * the rest arrives (`early_sync.ts`), so the fsync at the end has little left.
 */
export class DataWriter {
  readonly #out: WriteBuffer;
  readonly #file: Deno.FsFile;
  readonly #start: number;
  readonly #startHash: ((whole: boolean) => Promise<RunningDigest>) | undefined;
  #hash: RunningDigest | undefined;
  #path: string | undefined;
  /** Opened when bytes arrive after a piece was written; null once unavailable. */
  #earlySync: EarlySync | null | undefined;
  /** Opened at the first write that can go direct (undefined until then); null once unavailable. */
  #direct: DirectFile | null | undefined;
  /** Direct writes don't move the file's position: seek before the next write through it. */
  #moved = false;
  /** Bytes written to the file, in order; a write still under way doesn't count. */
  #written = 0;
  /** A piece still being written while the next one gathers (one at a time). */
  #running: Promise<void> | undefined;

  /**
   * `startHash` gives the running hash of what precedes `start`, told whether the first write is
   * the whole body (a small body, all buffered); `path` enables direct writes and early syncs.
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
    // Each full buffer goes to the file and then, uncopied, to the hash (which gives it back).
    this.#out = new WriteBuffer((bytes, last, own) => this.#write(bytes, last, own), 0, takePiece);
  }

  /** Bytes written to the file. */
  get written(): number {
    return this.#written;
  }

  /** Bytes taken so far, written or still buffered. */
  get pushed(): number {
    return this.#out.pushed;
  }

  push(chunk: Uint8Array): Promise<void> {
    // More bytes: what is written so far isn't the body's end, and is worth syncing early.
    if (this.#written > 0 && this.#path && this.#earlySync !== null) {
      this.#earlySync ??= openEarlySync(this.#path, this.#start) ?? null;
      this.#earlySync?.advance(this.#start + this.#written);
    }
    return this.#out.push(chunk);
  }

  /** Writes what is buffered and waits for every write (throwing the first that failed). */
  async flush(): Promise<void> {
    await this.#out.flush();
    await this.#settle();
  }

  /**
   * Closes the second descriptors: waits for a write and an early sync under way, and starts no
   * more. Call before the fsync, which covers what went through either; false if an early sync
   * failed (the bytes may then not be durable whatever the fsync says).
   */
  async end(): Promise<boolean> {
    // A write under way ends first: the caller may cut the file back to `written` next.
    await this.#running?.catch(() => {});
    this.#running = undefined;
    const earlySync = this.#earlySync;
    this.#earlySync = null;
    this.#path = undefined;
    this.#direct?.close();
    this.#direct = null;
    return await earlySync?.close() ?? true;
  }

  /**
   * Takes each full piece of the WriteBuffer: a piece of ours is left writing while the next one
   * gathers (a direct write waits for the disk, and the body needn't), one at a time, and only
   * when the next can be a spare piece, so that the overlap never makes memory (concurrent
   * uploads drain the spares). The last piece and a caller's bytes are written before this
   * returns.
   */
  async #write(bytes: Uint8Array, last: boolean, own: boolean): Promise<void> {
    await this.#settle();
    const writing = this.#store(bytes, last, own);
    if (!own || last || sparePieces() === 0) return await writing;
    writing.catch(() => {}); // thrown by the next write, `flush` or `end`, not as unhandled
    this.#running = writing;
  }

  /** Waits for the write under way; throws if it failed. */
  async #settle(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    await running;
  }

  /** Writes `bytes` after what was written, then hands them to the hash. */
  async #store(bytes: Uint8Array, last: boolean, own: boolean): Promise<void> {
    if (this.#startHash && !this.#hash) {
      // Before the first write: a prefix rehashed from the file leaves the position at `start`.
      this.#hash = await this.#startHash(last && this.#written === 0);
    }
    const at = this.#start + this.#written;
    const direct = await this.#writeDirect(bytes, at);
    if (direct < bytes.length) {
      if (this.#moved) await this.#file.seek(at + direct, Deno.SeekMode.Start);
      this.#moved = false;
      await writeAll(this.#file, bytes.subarray(direct));
    }
    this.#written += bytes.length;
    if (own) await adoptPiece(this.#hash, bytes);
    else await this.#hash?.update(bytes);
  }

  /** Writes what of `bytes` can go direct at `at`; how many bytes that was. */
  async #writeDirect(bytes: Uint8Array, at: number): Promise<number> {
    if (this.#direct === null || !this.#path) return 0;
    const n = directPart(bytes, at);
    if (n === 0) return 0;
    this.#direct ??= openDirect(this.#path) ?? null;
    if (!this.#direct) return 0;
    if (!(await this.#direct.write(bytes.subarray(0, n), at))) {
      // Refused (an alignment this disk won't take, a full disk): the page cache from now on.
      this.#direct.close();
      this.#direct = null;
      return 0;
    }
    this.#moved = true;
    return n;
  }
}
