import { badRequest } from "./errors.ts";
/**
 * tus checksum extension: `Upload-Checksum: <algorithm> <base64 digest>`; sha1 is required. The
 * algorithms and the parser only: no hashing here (that is `checksum.ts`, node:crypto), so a
 * browser build can use it.
 */
export const CHECKSUM_ALGORITHMS = ["sha1", "md5", "sha256"] as const;
export type ChecksumAlgorithm = typeof CHECKSUM_ALGORITHMS[number];

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 digest. */
  digest: string;
}

/** The header value for a digest (base64): what a client sends. */
export function formatChecksum(algorithm: ChecksumAlgorithm, digest: string): string {
  return `${algorithm} ${digest}`;
}

/** Parses a header value; throws a 400 UploadError naming what was wrong. */
export function parseChecksum(value: string): Checksum {
  const m = /^\s*([A-Za-z0-9-]{1,20}) ([A-Za-z0-9+/]+={0,2})\s*$/.exec(value);
  if (!m) {
    throw badRequest(
      `Invalid Upload-Checksum ${
        JSON.stringify(value.slice(0, 60))
      }: expected "<algorithm> <base64>"`,
    );
  }
  const algorithm = m[1]!.toLowerCase();
  if (!isAlgorithm(algorithm)) {
    throw badRequest(
      `Unsupported checksum algorithm ${JSON.stringify(algorithm)}; supported: ${
        CHECKSUM_ALGORITHMS.join(", ")
      }`,
    );
  }
  let bytes: string;
  try {
    bytes = atob(m[2]!);
  } catch {
    throw badRequest(`Invalid Upload-Checksum: the digest is not base64`);
  }
  // A well-formed digest of the wrong length is not a malformed header: it just can't match, so
  // the body fails verification (460), as any other wrong digest does. Canonical padded base64,
  // so an unpadded digest compares equal to the computed one.
  return { algorithm, digest: btoa(bytes) };
}

export function isAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}
