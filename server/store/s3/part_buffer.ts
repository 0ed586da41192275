/** One local buffer file: the bytes of the part being filled, and their SHA-256. */
import { createHash, type Hash } from "node:crypto";
import { WriteBuffer } from "../write_buffer.ts";

export interface PartBuffer {
  path: string;
  file: Deno.FsFile;
  out: WriteBuffer;
  sha: Hash;
}

/** A new, empty buffer file for upload `id` in the directory `dir`. */
export async function createPartBuffer(dir: string, id: string): Promise<PartBuffer> {
  const path = `${dir}/${id}.${crypto.randomUUID().slice(0, 8)}`;
  // Removed behind our back (by hand, or a sweep that took it for a dead process's): remake it.
  await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, createNew: true });
  return { path, file, out: WriteBuffer.forFile(file), sha: createHash("sha256") };
}

/** A buffer file kept from earlier, holding `bytes` whose running SHA-256 is `sha`, appended to. */
export async function reopenPartBuffer(
  path: string,
  bytes: number,
  sha: Hash,
): Promise<PartBuffer> {
  const file = await Deno.open(path, { read: true, write: true });
  await file.seek(0, Deno.SeekMode.End);
  return { path, file, out: WriteBuffer.forFile(file, bytes), sha };
}

/** Writes out what the buffer holds and closes its file; returns its size. */
export async function closePartBuffer(buffer: PartBuffer): Promise<number> {
  await buffer.out.flush();
  buffer.file.close();
  return buffer.out.size;
}
