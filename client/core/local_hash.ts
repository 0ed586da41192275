/**
 * The local MD5 + SHA-256 of an upload, fed in order: from the chunks as they are sent, and from
 * the source itself for what the server already holds (a resumed prefix).
 */
import type { Digests } from "../../lib/digest_header.ts";
import type { RunningDigest } from "../../lib/deno/digest_pool.ts";
import { UploadError } from "../../lib/errors.ts";
import type { UploadSource } from "./source.ts";

/** Piece size for streamed chunks and for hashing. */
export const PIECE = 1024 * 1024;

export class LocalHash {
  readonly #source: UploadSource;
  readonly #digest: RunningDigest;

  constructor(source: UploadSource, digest: RunningDigest) {
    this.#source = source;
    this.#digest = digest;
  }

  /** Feeds bytes at `position`, skipping what it has already seen. */
  async feed(position: number, bytes: Uint8Array): Promise<void> {
    const seen = this.#digest.length;
    if (position <= seen && seen < position + bytes.length) {
      await this.#digest.update(bytes.subarray(seen - position));
    }
  }

  /**
   * Like `feed`, for bytes the caller keeps still until the returned promise resolves: hashed in
   * place where the digest can (no copy, no pooled pieces), else fed as usual.
   */
  async lend(position: number, bytes: Uint8Array): Promise<void> {
    const seen = this.#digest.length;
    if (position > seen || seen >= position + bytes.length) return;
    const unseen = bytes.subarray(seen - position);
    await (this.#digest.borrow ? this.#digest.borrow(unseen) : this.#digest.update(unseen));
  }

  /** Hashes local bytes up to `offset` (a resumed prefix, or a gap another writer filled). */
  async upTo(offset: number): Promise<void> {
    while (this.#digest.length < offset) {
      const at = this.#digest.length;
      const piece = await this.#source.read(at, Math.min(PIECE * 8, offset - at));
      if (piece.length === 0) throw new UploadError(0, "file-changed", "The file got shorter");
      await this.feed(at, piece);
    }
  }

  digest(): Promise<Digests> {
    return this.#digest.digest();
  }

  /** Throws the state away: an abandoned hash must not keep the hashing worker alive. */
  drop(): void {
    this.#digest.drop();
  }
}
