/**
 * What an upload reads from: anything that can hand out a byte range. Sources never hold the whole
 * file; the core uses only `read`, so it works the same in Deno and in a browser.
 */
export interface UploadSource {
  readonly size: number;
  /** Bytes [offset, offset + length), shorter only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Bytes from `offset` into `into` (filled but at the end of the source), returning how many:
   * lets the core reuse its chunk buffers instead of leaving one to the garbage collector per chunk.
   */
  readInto?(offset: number, into: Uint8Array): Promise<number>;
  /** Throws if the underlying data changed since the upload began (files only). */
  check?(): Promise<void>;
  close?(): void;
}

export function bytesSource(bytes: Uint8Array): UploadSource {
  return {
    size: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
  };
}

export function blobSource(blob: Blob): UploadSource {
  return {
    size: blob.size,
    read: async (offset, length) =>
      new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Bytes [start, end) of another source, as a source of their own (a part of a parallel upload). */
export function rangeSource(source: UploadSource, start: number, end: number): UploadSource {
  return {
    size: end - start,
    read: (offset, length) => source.read(start + offset, Math.min(length, end - start - offset)),
    ...(source.check ? { check: () => source.check!() } : {}),
  };
}
