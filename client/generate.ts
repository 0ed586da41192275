import { createCipheriv, createHash } from "node:crypto";

/**
 * Writes `size` pseudo-random bytes to `path`, streamed in 1 MiB blocks (constant memory).
 * Deterministic for a seed: AES-128-CTR of zeros under a key derived from the seed.
 */
export async function generateFile(path: string, size: number, seed = 0): Promise<void> {
  const key = createHash("sha256").update(`resumable-generate:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, new Uint8Array(16));
  const zeros = new Uint8Array(1024 * 1024);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let left = size; left > 0;) {
    const n = Math.min(left, zeros.length);
    const block: Uint8Array = cipher.update(zeros.subarray(0, n));
    for (let done = 0; done < block.length;) done += await file.write(block.subarray(done));
    left -= n;
  }
  await file.syncData();
}
