import { type Checksum, type ChecksumAlgorithm, checksumHashes } from "../../lib/checksum.ts";
import { WRITE_BUFFER, WriteBuffer } from "./write_buffer.ts";

/** A body held aside whole, with its checksums, until it is verified. */
export interface Staged {
  /** Whether the body matches `expected`. */
  matches(expected: Checksum): boolean;
  /** The staged bytes, from the start. */
  stream(): ReadableStream<Uint8Array>;
  /** Removes the spill file, if any. */
  discard(): Promise<void>;
}

/**
 * Reads a body whole, hashing it with `algorithm` (every algorithm when unknown, as for a
 * trailer). Up to one write buffer (1 MiB) stays in memory; a larger body spills to `spill`, a
 * path the store gives (its leftovers are the store's garbage to collect) — or, with none, stays
 * in memory (the memory store).
 */
export async function stage(
  body: ReadableStream<Uint8Array>,
  algorithm: ChecksumAlgorithm | undefined,
  spill: string | undefined,
): Promise<Staged> {
  const sums = checksumHashes(algorithm);
  const memory: Uint8Array[] = [];
  let inMemory = 0;
  let file: Deno.FsFile | undefined;
  let out: WriteBuffer | undefined;
  const discard = async () => {
    if (!file) return;
    try {
      file.close();
    } catch {
      // closed by its readable stream already
    }
    file = undefined;
    await Deno.remove(spill!).catch(() => {});
  };
  try {
    for await (const chunk of body) {
      for (const h of sums.values()) h.update(chunk);
      if (!out && (spill === undefined || inMemory + chunk.length <= WRITE_BUFFER)) {
        memory.push(chunk.slice());
        inMemory += chunk.length;
        continue;
      }
      if (!out) {
        file = await Deno.open(spill!, { read: true, write: true, createNew: true });
        out = WriteBuffer.forFile(file);
        for (const m of memory.splice(0)) await out.push(m);
      }
      await out.push(chunk);
    }
    await out?.flush();
  } catch (error) {
    await discard();
    throw error;
  }
  const digests = new Map([...sums].map(([algorithm, h]) => [algorithm, h.digest("base64")]));
  return {
    matches: (expected) => digests.get(expected.algorithm) === expected.digest,
    stream() {
      if (!file) return ReadableStream.from(memory);
      const staged = file;
      return ReadableStream.from((async function* () {
        await staged.seek(0, Deno.SeekMode.Start);
        while (true) {
          // A fresh piece each time: the reader may keep what it was given.
          const piece = new Uint8Array(WRITE_BUFFER);
          const n = await staged.read(piece);
          if (n === null) return;
          yield piece.subarray(0, n);
        }
      })());
    },
    discard,
  };
}
