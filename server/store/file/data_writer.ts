import { adoptPiece, type RunningDigest, takePiece } from "../../../lib/deno/digest_pool.ts";
import { writeAll, WriteBuffer } from "../write_buffer.ts";
import { openWriteback, type Writeback, WRITEBACK_STEP } from "./writeback.ts";

/**
 * Writes a body into an upload's data file from `start` (through the one WriteBuffer), feeding
 * the running hash with exactly the bytes written. Given the file's path, it starts the kernel's
 * writeback of each few MiB written (`writeback.ts`), so the fsync at the end has little left.
 */
export class DataWriter {
  readonly #out: WriteBuffer;
  readonly #file: Deno.FsFile;
  readonly #start: number;
  readonly #startHash: ((whole: boolean) => Promise<RunningDigest>) | undefined;
  #hash: RunningDigest | undefined;
  #path: string | undefined;
  #writeback: Writeback | undefined;

  /**
   * `startHash` gives the running hash of what precedes `start`, told whether the first write is
   * the whole body (a small body, all buffered); `path` enables writeback.
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
    return this.#out.written;
  }

  /** Bytes taken so far, written or still buffered. */
  get pushed(): number {
    return this.#out.pushed;
  }

  push(chunk: Uint8Array): Promise<void> {
    return this.#out.push(chunk);
  }

  flush(): Promise<void> {
    return this.#out.flush();
  }

  /** Stops starting writeback (waiting for the request under way); call before the fsync. */
  async endWriteback(): Promise<void> {
    const writeback = this.#writeback;
    this.#writeback = undefined;
    this.#path = undefined;
    await writeback?.close();
  }

  async #write(bytes: Uint8Array, last: boolean, own: boolean): Promise<void> {
    const written = this.#out.written;
    if (this.#startHash && !this.#hash) {
      // Before the first write: a prefix rehashed from the file leaves the position at `start`.
      this.#hash = await this.#startHash(last && written === 0);
    }
    await writeAll(this.#file, bytes);
    const end = this.#start + written + bytes.length;
    // Only a body of several MiB is worth the second descriptor.
    if (this.#path && !this.#writeback && end - this.#start >= WRITEBACK_STEP) {
      this.#writeback = openWriteback(this.#path, this.#start);
      if (!this.#writeback) this.#path = undefined;
    }
    this.#writeback?.advance(end);
    if (own) await adoptPiece(this.#hash, bytes);
    else await this.#hash?.update(bytes);
  }
}
