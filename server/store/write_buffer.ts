/**
 * Bytes gathered before one write(2); bounds memory per request. The size of a hashing piece
 * (`PIECE` in lib/deno/digest_native.ts, which this pure module can't import), so the file store
 * can write from a pooled piece and hand it to the hashes whole; write_buffer_test.ts holds them
 * equal.
 */
export const WRITE_BUFFER = 1024 * 1024;

/** What takes bytes a write(2) at a time, perhaps fewer than offered (an open file). */
export interface Writable {
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes all of `bytes` (a write(2) may take fewer). */
export async function writeAll(file: Writable, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

/**
 * What a WriteBuffer hands its bytes to; `last`: the body has ended (a final flush); `own`: the
 * bytes are the start of a buffer from the WriteBuffer's `take`, which now belongs to the sink.
 */
export type WriteSink = (bytes: Uint8Array, last: boolean, own: boolean) => Promise<void>;

/**
 * Gathers small network chunks into writes of up to 1 MiB (bounded memory per request); a chunk
 * of a whole buffer or more, arriving with nothing buffered, is written as it is.
 */
export class WriteBuffer {
  /** Bytes the sink has taken. */
  written = 0;
  readonly #sink: WriteSink;
  readonly #base: number;
  readonly #take: (() => Uint8Array) | undefined;
  /** Taken when a chunk is first copied: a body that arrives in big chunks never needs one. */
  #buffer: Uint8Array | undefined;
  #buffered = 0;

  /**
   * `base`: bytes the destination holds already (counted in `size`). `storage`: the memory to
   * gather in — one buffer, when a writer reuses it for a series of destinations (a buffer is
   * empty once flushed, so the next one may take its storage); or where to take a new one each
   * time a full one is handed over to the sink for good (`own`). By default one buffer of
   * `WRITE_BUFFER` bytes, reused.
   */
  constructor(sink: WriteSink, base = 0, storage?: Uint8Array | (() => Uint8Array)) {
    this.#sink = sink;
    this.#base = base;
    if (typeof storage === "function") this.#take = storage;
    else this.#buffer = storage;
  }

  /** A buffer writing to the current position of `file`. */
  static forFile(file: Writable, base = 0): WriteBuffer {
    return new WriteBuffer((bytes) => writeAll(file, bytes), base);
  }

  /** Bytes taken so far, written or still buffered. */
  get pushed(): number {
    return this.written + this.#buffered;
  }

  /** `base` plus everything pushed. */
  get size(): number {
    return this.#base + this.pushed;
  }

  async push(chunk: Uint8Array): Promise<void> {
    if (this.#buffered === 0 && chunk.length >= (this.#buffer?.length ?? WRITE_BUFFER)) {
      return await this.#write(chunk, false, false);
    }
    while (chunk.length > 0) {
      const buffer = this.#buffer ??= this.#take?.() ?? new Uint8Array(WRITE_BUFFER);
      const n = Math.min(chunk.length, buffer.length - this.#buffered);
      buffer.set(chunk.subarray(0, n), this.#buffered);
      this.#buffered += n;
      chunk = chunk.subarray(n);
      if (this.#buffered === buffer.length) await this.flush(false);
    }
  }

  /** Writes what is buffered; `last`: the body has ended (the default). */
  async flush(last = true): Promise<void> {
    if (this.#buffered === 0) return;
    const n = this.#buffered;
    const bytes = this.#buffer!.subarray(0, n);
    this.#buffered = 0;
    if (this.#take) this.#buffer = undefined;
    await this.#write(bytes, last, this.#take !== undefined);
  }

  async #write(bytes: Uint8Array, last: boolean, own: boolean): Promise<void> {
    await this.#sink(bytes, last, own);
    this.written += bytes.length;
  }
}
