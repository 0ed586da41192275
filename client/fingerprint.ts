import { createHash } from "node:crypto";
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
  const hash = createHash("sha256");
  hash.update(JSON.stringify([identity.path, source.size, identity.mtime, identity.endpoint]));
  hash.update(await source.read(0, EDGE));
  hash.update(await source.read(Math.max(0, source.size - EDGE), EDGE));
  return hash.digest("hex");
}
