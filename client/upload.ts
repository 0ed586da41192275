/**
 * The upload core (`upload_core.ts`) with Deno's hashing (`deno_hashing.ts`). This is what the CLI,
 * the tests and anyone embedding the client in Deno import; the web page imports the core itself
 * with its own hashing, so nothing here may be needed by the core.
 */
import { denoHashing } from "./deno_hashing.ts";
import { fetchWithInformational } from "./informational_fetch.ts";
import type { UploadSource } from "./core/source.ts";
import { upload as uploadWith, type UploadOptions, type UploadResult } from "./core/upload_core.ts";

export {
  DEFAULT_CHECKSUM,
  DEFAULT_CHUNK_SIZE,
  type Hashing,
  showDigests,
  type UploadEvent,
  type UploadOptions,
  type UploadResult,
  type Verified,
} from "./core/upload_core.ts";

/**
 * Uploads `source`; resolves once the server holds it and it is verified. Bodies stream (Deno can),
 * so `sent` progress moves while a chunk is on its way. Unless another `fetch` is given, the IETF
 * draft's 104 responses are heard (node:http), so a creation can carry data.
 */
export async function upload(source: UploadSource, options: UploadOptions): Promise<UploadResult> {
  const informational = options.informationalFetch ??
    (options.fetch ? undefined : fetchWithInformational);
  return await uploadWith(source, {
    streamBody: true,
    ...options,
    hashing: options.hashing ?? await denoHashing(),
    ...(informational ? { informationalFetch: informational } : {}),
  });
}
