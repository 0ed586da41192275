/**
 * OpenSSL's libcrypto through Deno's FFI: MD5 and SHA-256 contexts, each update callable either
 * on the calling thread or, `nonblocking`, on one of the runtime's blocking threads (so MD5 and
 * SHA-256 of the same bytes, and the hashes of concurrent uploads, run on different cores with no
 * Web Worker and no copy to another isolate). Loaded once; null where the library or
 * `--allow-ffi` is missing (callers fall back to `node:crypto`).
 *
 * The low-level `MD5_*`/`SHA256_*` calls are used rather than `EVP_Digest*`: OpenSSL 3 still
 * exports them, and they skip the provider dispatch EVP pays on every call.
 */
import { openLibrary } from "./ffi.ts";

const update = { parameters: ["buffer", "buffer", "usize"], result: "i32" } as const;
/** `MD5(data, n, out)` and the like: a whole digest in one call. */
const oneShot = { parameters: ["buffer", "usize", "buffer"], result: "pointer" } as const;
const SYMBOLS = {
  MD5_Init: { parameters: ["buffer"], result: "i32" },
  MD5_Update: update,
  MD5_Final: { parameters: ["buffer", "buffer"], result: "i32" },
  md5UpdateAsync: { ...update, name: "MD5_Update", nonblocking: true },
  SHA256_Init: { parameters: ["buffer"], result: "i32" },
  SHA256_Update: update,
  SHA256_Final: { parameters: ["buffer", "buffer"], result: "i32" },
  sha256UpdateAsync: { ...update, name: "SHA256_Update", nonblocking: true },
  MD5: oneShot,
  SHA1: oneShot,
  SHA256: oneShot,
} as const;

export type Libcrypto = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const LIBRARY = Deno.build.os === "darwin" ? "libcrypto.3.dylib" : "libcrypto.so.3";
let loaded: Libcrypto | null | undefined;

/** The library's symbols, or null where it can't be loaded (see `openLibrary`). */
export function libcrypto(): Libcrypto | null {
  if (loaded === undefined) loaded = openLibrary(LIBRARY, SYMBOLS);
  return loaded;
}

/** Room for `MD5_CTX` (92 bytes) or `SHA256_CTX` (112 bytes) on any platform OpenSSL 3 runs on. */
export const CTX_BYTES = 256;

export type NativeAlgorithm = "md5" | "sha256";

/** A context plus its calls, for either algorithm. */
export function nativeHash(lib: Libcrypto, algorithm: NativeAlgorithm) {
  const ctx = new Uint8Array(CTX_BYTES);
  const [init, sync, async, final, size] = algorithm === "md5"
    ? [lib.MD5_Init, lib.MD5_Update, lib.md5UpdateAsync, lib.MD5_Final, 16]
    : [lib.SHA256_Init, lib.SHA256_Update, lib.sha256UpdateAsync, lib.SHA256_Final, 32];
  init(ctx);
  return {
    update: (bytes: Uint8Array) => void sync(ctx, bytes, BigInt(bytes.length)),
    /** On a blocking thread; `bytes` must stay untouched until it resolves. */
    updateAsync: (bytes: Uint8Array) => async(ctx, bytes, BigInt(bytes.length)),
    /** The digest, base64; the context can't be used afterwards. */
    final(): string {
      const out = new Uint8Array(size);
      final(out, ctx);
      return base64(out);
    },
  };
}

const ONE_SHOT = {
  md5: ["MD5", 16],
  sha1: ["SHA1", 20],
  sha256: ["SHA256", 32],
} as const satisfies Record<string, [keyof Libcrypto, number]>;

/** The digest of `bytes` in one call on this thread, base64 (a per-chunk checksum). */
export function nativeDigestOf(
  lib: Libcrypto,
  algorithm: keyof typeof ONE_SHOT,
  bytes: Uint8Array,
): string {
  const [name, size] = ONE_SHOT[algorithm];
  const out = new Uint8Array(size);
  lib[name](bytes, BigInt(bytes.length), out);
  return base64(out);
}

function base64(digest: Uint8Array): string {
  return btoa(String.fromCharCode(...digest));
}
