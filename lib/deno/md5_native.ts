/**
 * MD5 from libcrypto (`libcrypto.ts`) on the calling thread: about a third faster than
 * `node:crypto`'s MD5 in Deno, and MD5 is what bounds a single upload (it can't be split across
 * threads). Where libcrypto can't be loaded, `createMd5` falls back to `node:crypto`; both give
 * the same digests (md5_native_test.ts proves it).
 */
import { createHash } from "node:crypto";
import { libcrypto, nativeHash } from "./libcrypto.ts";

/** A running MD5; `digest` finishes it (base64) and it can't be used afterwards. */
export interface Md5 {
  update(bytes: Uint8Array): void;
  digest(): string;
}

/** Which implementation `createMd5` uses on this thread. */
export function md5Backend(): "libcrypto" | "node:crypto" {
  return libcrypto() ? "libcrypto" : "node:crypto";
}

/** A running MD5: libcrypto's where it can be loaded, else node:crypto's (`force` picks one). */
export function createMd5(force?: "libcrypto" | "node:crypto"): Md5 {
  const lib = force === "node:crypto" ? null : libcrypto();
  if (!lib) {
    if (force === "libcrypto") throw new Error("libcrypto can't be loaded here");
    const hash = createHash("md5");
    return {
      update: (bytes) => void hash.update(bytes),
      digest: () => hash.digest("base64"),
    };
  }
  const md5 = nativeHash(lib, "md5");
  let done = false;
  return {
    update(bytes) {
      if (done) throw new Error("MD5 already finished");
      if (bytes.length > 0) md5.update(bytes);
    },
    digest() {
      if (done) throw new Error("MD5 already finished");
      done = true;
      return md5.final();
    },
  };
}
