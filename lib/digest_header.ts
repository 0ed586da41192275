/**
 * The whole-upload digests as both sides write them (`Repr-Digest`, hex for people). No hashing
 * here (that is `digest.ts`, node:crypto), so a browser build can use it.
 */

/** The whole-upload digests both sides compute: MD5 and SHA-256, base64. */
export interface Digests {
  md5: string;
  sha256: string;
}

/** RFC 9530 `Repr-Digest` value: `sha-256=:…:, md5=:…:`. */
export function formatReprDigest(d: Digests): string {
  return `sha-256=:${d.sha256}:, md5=:${d.md5}:`;
}

/**
 * Reads the algorithms this project uses from a `Repr-Digest` (or `Content-Digest`) value; other
 * algorithms are ignored. Returns undefined for a field that can't be parsed.
 */
export function parseReprDigest(value: string): Partial<Digests> | undefined {
  const out: Partial<Digests> = {};
  for (const member of value.split(",")) {
    const m = /^\s*([a-z0-9-]+)=:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (!m) return undefined;
    if (m[1] === "sha-256") out.sha256 = m[2]!;
    if (m[1] === "md5") out.md5 = m[2]!;
  }
  return out;
}

/** Hex form of a base64 digest, as md5sum and sha256sum print it. */
export function base64ToHex(b64: string): string {
  return hex(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
}

/** Lowercase hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
