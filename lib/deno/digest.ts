/**
 * MD5 (libcrypto where FFI allows, `md5_native.ts`) + SHA-256 (node:crypto) on the calling
 * thread; the digest fields and their formats are `digest_header.ts`.
 */
import { createHash, type Hash } from "node:crypto";
import type { Digests } from "../digest_header.ts";
import { createMd5, type Md5 } from "./md5_native.ts";

export { base64ToHex, type Digests, formatReprDigest, parseReprDigest } from "../digest_header.ts";

/** MD5 and SHA-256 fed in one pass. */
export class DigestState {
  readonly #md5: Md5 = createMd5();
  readonly #sha256: Hash = createHash("sha256");
  /** Bytes fed so far. */
  length = 0;

  update(bytes: Uint8Array): void {
    this.#md5.update(bytes);
    this.#sha256.update(bytes);
    this.length += bytes.length;
  }

  /** Finishes both hashes; the state can't be used afterwards. */
  digest(): Digests {
    return { md5: this.#md5.digest(), sha256: this.#sha256.digest("base64") };
  }
}
