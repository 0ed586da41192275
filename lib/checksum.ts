/** Checksums computed with node:crypto; the header itself is `checksum_header.ts`. */
import { createHash, type Hash } from "node:crypto";
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, formatChecksum } from "./checksum_header.ts";

export {
  type Checksum,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  isAlgorithm,
  parseChecksum,
} from "./checksum_header.ts";

/** Hashes for the given algorithms (all of them when the algorithm is not yet known). */
export function checksumHashes(algorithm?: ChecksumAlgorithm): Map<ChecksumAlgorithm, Hash> {
  const list = algorithm ? [algorithm] : CHECKSUM_ALGORITHMS;
  return new Map(list.map((a) => [a, createHash(a)]));
}

/** The header value for bytes: what a client sends. */
export function checksumOf(algorithm: ChecksumAlgorithm, bytes: Uint8Array): string {
  return formatChecksum(algorithm, createHash(algorithm).update(bytes).digest("base64"));
}
