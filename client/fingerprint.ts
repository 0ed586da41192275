import { hex } from "../lib/digest_header.ts";
import type { UploadSource } from "./core/source.ts";

const EDGE = 1024 * 1024;

/**
 * Identifies "the same file to the same endpoint": absolute path, size, mtime, endpoint and a hash
 * of the first and last MiB. Any change gives another fingerprint, hence a new upload.
 */
export async function fingerprint(
  source: UploadSource,
  identity: { path: string; mtime: number; endpoint: string },
): Promise<string> {
  // Web Crypto, not node:crypto: loading node:crypto would add megabytes to every upload.
  const parts = [
    new TextEncoder().encode(
      JSON.stringify([identity.path, source.size, identity.mtime, identity.endpoint]),
    ),
    await source.read(0, EDGE),
    await source.read(Math.max(0, source.size - EDGE), EDGE),
  ];
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await new Blob(parts as BlobPart[]).arrayBuffer(),
  );
  return hex(new Uint8Array(digest));
}
