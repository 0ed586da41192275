/**
 * The upload core's hashing in Deno. With libcrypto (`--allow-ffi`): MD5 + SHA-256 on the
 * runtime's blocking threads and one-shot per-chunk checksums, and nothing else loaded. Without
 * it: the worker pool and node:crypto, imported only then — node:crypto alone adds ~5 MiB to a
 * client's resident memory.
 */
import { type ChecksumAlgorithm, formatChecksum } from "../lib/checksum_header.ts";
import { nativeDigest } from "../lib/deno/digest_native.ts";
import { libcrypto, nativeDigestOf } from "../lib/deno/libcrypto.ts";
import type { Hashing } from "./core/upload_core.ts";

export async function denoHashing(): Promise<Hashing> {
  const lib = libcrypto();
  if (lib) {
    return {
      digest: () => nativeDigest(lib),
      checksum: (algorithm: ChecksumAlgorithm, bytes: Uint8Array) =>
        formatChecksum(algorithm, nativeDigestOf(lib, algorithm, bytes)),
    };
  }
  const [{ offThreadDigest }, { checksumOf }] = await Promise.all([
    import("../lib/deno/digest_pool.ts"),
    import("../lib/checksum.ts"),
  ]);
  return { digest: offThreadDigest, checksum: checksumOf };
}
