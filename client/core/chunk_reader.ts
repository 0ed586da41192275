/**
 * The chunks of an upload, read from its source with their per-chunk checksum, one read ahead:
 * while the server stores and fsyncs a chunk, the next one is read (and checksummed).
 */
import type { UploadSource } from "./source.ts";

/** Chunks up to this size are read into memory and sent with a Content-Length; larger ones stream. */
export const BUFFERED_CHUNK_MAX = 16 * 1024 * 1024;

/** A chunk's bytes and, where one is sent, its `Upload-Checksum` value. */
export interface Chunk {
  offset: number;
  bytes: Uint8Array;
  checksum?: string;
}

export class ChunkReader {
  readonly #source: UploadSource;
  readonly #chunkSize: number;
  readonly #checksum: ((bytes: Uint8Array) => string) | undefined;
  /** A chunk read ahead during the previous PATCH, if it is the one wanted now. */
  #prefetch: Promise<Chunk> | undefined;
  /**
   * Two chunk buffers, taking turns: one holds the chunk being sent, the other the one read ahead
   * (when the third read starts, the first chunk's PATCH has ended). No chunk is left to the
   * garbage collector, which lets dead chunks pile up to ~64 MiB before it runs.
   */
  #buffers: Uint8Array[] = [];

  constructor(
    source: UploadSource,
    chunkSize: number,
    checksum: ((bytes: Uint8Array) => string) | undefined,
  ) {
    this.#source = source;
    this.#chunkSize = chunkSize;
    this.#checksum = checksum;
  }

  /** The chunk at `offset`: the one read ahead if it is that one, else read now. */
  async chunk(offset: number, length: number): Promise<Chunk> {
    const ahead = this.#prefetch;
    this.#prefetch = undefined;
    const got = await ahead?.catch(() => undefined);
    return got && got.offset === offset && got.bytes.length === length
      ? got
      : await this.#load(offset, length);
  }

  /** Starts reading the chunk a later `chunk(offset, length)` asks for. */
  readAhead(offset: number, length: number): void {
    this.#prefetch = this.#load(offset, length);
  }

  async #read(offset: number, length: number): Promise<Uint8Array> {
    if (!this.#source.readInto) return await this.#source.read(offset, length);
    // The older of the two (the newer may hold the chunk being sent).
    let buffer = this.#buffers.length < 2 ? undefined : this.#buffers.shift();
    if (!buffer || buffer.length < length) {
      // Sized for the chunks to come (at most a buffered chunk: with Infinity, a remainder).
      buffer = new Uint8Array(Math.max(length, Math.min(this.#chunkSize, BUFFERED_CHUNK_MAX)));
    }
    this.#buffers.push(buffer);
    return buffer.subarray(0, await this.#source.readInto(offset, buffer.subarray(0, length)));
  }

  async #load(offset: number, length: number): Promise<Chunk> {
    const bytes = await this.#read(offset, length);
    return { offset, bytes, ...(this.#checksum ? { checksum: this.#checksum(bytes) } : {}) };
  }
}
