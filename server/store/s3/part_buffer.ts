/** One local buffer file: the bytes of the part being filled, and their SHA-256. */
import { createHash, type Hash } from "node:crypto";
import type { RunningDigest } from "../../../lib/deno/digest_pool.ts";
import { writeAll, WriteBuffer } from "../write_buffer.ts";

export interface PartBuffer {
  path: string;
  file: Deno.FsFile;
  /** Gathers the bytes into writes of up to a write buffer; each write feeds `sha` and `digest`. */
  out: WriteBuffer;
  sha: Hash;
  /**
   * The upload's running digest, fed with each write from when it is set: the digest takes whole
   * write buffers, not network-sized chunks (each update holds a pooled piece while in flight).
   */
  digest: RunningDigest | undefined;
}

/**
 * How a writer's buffers are made: the running digest a new one feeds, and the memory its write
 * buffer gathers in (one per writer, reused by each part's buffer once the previous is closed:
 * a fresh one per part would leave a write buffer of garbage per part).
 */
export interface PartBufferOptions {
  digest: RunningDigest | undefined;
  storage: Uint8Array<ArrayBuffer>;
}

function partBuffer(
  path: string,
  file: Deno.FsFile,
  sha: Hash,
  base: number,
  options: PartBufferOptions,
): PartBuffer {
  const buffer: PartBuffer = {
    path,
    file,
    sha,
    digest: options.digest,
    out: new WriteBuffer(
      async (bytes) => {
        await writeAll(file, bytes);
        sha.update(bytes);
        await buffer.digest?.update(bytes);
      },
      base,
      options.storage,
    ),
  };
  return buffer;
}

/** A new, empty buffer file for upload `id` in the directory `dir`. */
export async function createPartBuffer(
  dir: string,
  id: string,
  options: PartBufferOptions,
): Promise<PartBuffer> {
  const path = `${dir}/${id}.${crypto.randomUUID().slice(0, 8)}`;
  // Removed behind our back (by hand, or a sweep that took it for a dead process's): remake it.
  await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, createNew: true });
  return partBuffer(path, file, createHash("sha256"), 0, options);
}

/** A buffer file kept from earlier, holding `bytes` whose running SHA-256 is `sha`, appended to. */
export async function reopenPartBuffer(
  path: string,
  bytes: number,
  sha: Hash,
  options: PartBufferOptions,
): Promise<PartBuffer> {
  const file = await Deno.open(path, { read: true, write: true });
  await file.seek(0, Deno.SeekMode.End);
  return partBuffer(path, file, sha, bytes, options);
}

/** Writes out what the buffer holds and closes its file; returns its size. */
export async function closePartBuffer(buffer: PartBuffer): Promise<number> {
  await buffer.out.flush();
  buffer.file.close();
  return buffer.out.size;
}
