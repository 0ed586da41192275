import { type Checksum, type ChecksumAlgorithm, checksumHashes } from "../../lib/checksum.ts";
import type { Spill } from "./types.ts";
import { WRITE_BUFFER } from "./write_buffer.ts";

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
 * trailer). Up to one write buffer (1 MiB) stays in memory; a larger body goes to `spill`, which
 * the store gives (its leftovers are the store's garbage to collect) — or, with none, stays in
 * memory (the memory store).
 */
export async function stage(
  body: ReadableStream<Uint8Array>,
  algorithm: ChecksumAlgorithm | undefined,
  spill: Spill | undefined,
): Promise<Staged> {
  const sums = checksumHashes(algorithm);
  const memory: Uint8Array[] = [];
  let inMemory = 0;
  let spilled = false;
  const discard = async () => {
    if (spilled) await spill!.remove();
  };
  try {
    for await (const chunk of body) {
      for (const h of sums.values()) h.update(chunk);
      if (!spilled && (spill === undefined || inMemory + chunk.length <= WRITE_BUFFER)) {
        memory.push(chunk.slice());
        inMemory += chunk.length;
        continue;
      }
      if (!spilled) {
        spilled = true;
        for (const m of memory.splice(0)) await spill!.write(m);
      }
      await spill!.write(chunk);
    }
    if (spilled) await spill!.flush();
  } catch (error) {
    await discard();
    throw error;
  }
  const digests = new Map([...sums].map(([algorithm, h]) => [algorithm, h.digest("base64")]));
  return {
    matches: (expected) => digests.get(expected.algorithm) === expected.digest,
    stream: () => spilled ? spill!.stream() : ReadableStream.from(memory),
    discard,
  };
}
