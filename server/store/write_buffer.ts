/** Bytes gathered before one write(2); bounds memory per request. */
export const WRITE_BUFFER = 1024 * 1024;

/** What takes bytes a write(2) at a time, perhaps fewer than offered (an open file). */
export interface Writable {
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes all of `bytes` (a write(2) may take fewer). */
export async function writeAll(file: Writable, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}

/** What a WriteBuffer hands its bytes to; `last`: the body has ended (a final flush). */
export type WriteSink = (bytes: Uint8Array, last: boolean) => Promise<void>;

/**
 * Gathers small network chunks into writes of up to 1 MiB (bounded memory per request); a chunk
 * of a whole buffer or more, arriving with nothing buffered, is written as it is.
 */
export class WriteBuffer {
  /** Bytes the sink has taken. */
  written = 0;
  readonly #sink: WriteSink;
  readonly #base: number;
  readonly #buffer: Uint8Array;
  #buffered = 0;

  /**
   * `base`: bytes the destination holds already (counted in `size`). `storage`: the memory to
   * gather in, when a writer reuses one for a series of destinations (a buffer is empty once
   * flushed, so the next one may take its storage).
   */
  constructor(sink: WriteSink, base = 0, storage = new Uint8Array(WRITE_BUFFER)) {
    this.#sink = sink;
    this.#base = base;
    this.#buffer = storage;
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
    if (this.#buffered === 0 && chunk.length >= this.#buffer.length) {
      return await this.#write(chunk, false);
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
    await this.#sink(bytes, last);
    this.written += bytes.length;
  }
}
