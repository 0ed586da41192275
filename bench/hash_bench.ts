/**
 * Hashing cost per chunk size: MD5, SHA-1 and SHA-256 (node:crypto, as lib/checksum.ts and the
 * stores use them) against a plain copy of the same bytes. Run: deno task bench. Read the
 * `x slower` column: the ratio to the memcpy baseline measured in the same run.
 */
import { createHash } from "node:crypto";

const SIZES = [64 * 1024, 1024 * 1024, 8 * 1024 * 1024];
const ALGORITHMS = ["md5", "sha1", "sha256"] as const;

for (const size of SIZES) {
  const bytes = crypto.getRandomValues(new Uint8Array(65536));
  const src = new Uint8Array(size);
  for (let at = 0; at < size; at += bytes.length) src.set(bytes.subarray(0, size - at), at);
  const dst = new Uint8Array(size);
  const label = size >= 1024 * 1024 ? `${size / (1024 * 1024)} MiB` : `${size / 1024} KiB`;
  const group = `hash ${label}`;
  Deno.bench({
    name: `memcpy ${label} (baseline)`,
    group,
    baseline: true,
    fn: () => void dst.set(src),
  });
  for (const algorithm of ALGORITHMS) {
    Deno.bench({
      name: `${algorithm} ${label}`,
      group,
      fn: () => void createHash(algorithm).update(src).digest(),
    });
  }
  Deno.bench({
    name: `md5 + sha256 ${label} (both, as the server keeps them)`,
    group,
    fn() {
      createHash("md5").update(src).digest();
      createHash("sha256").update(src).digest();
    },
  });
}
