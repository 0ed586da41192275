/**
 * Direct writes: the whole aligned blocks of a body go from our buffer to the disk (`O_DIRECT`)
 * instead of being copied into the page cache and written out from there. That saves the copy and
 * the cache's pages, and leaves the fsync nothing to write out. On a virtual machine that hands
 * freed memory back to its host, the copy into fresh cache pages costs 2–3 s of CPU per GiB
 * after another process freed memory (bench/RESULTS.md, round 8); a direct write costs the same
 * every time. The fsync still decides what may be acknowledged: a direct write may wait in the
 * disk's volatile cache until the fsync's flush, and the file's new size is made durable only by
 * it.
 *
 * Deno's FsFile takes no open flags, so the writes go to a second descriptor (`second_fd.ts`), as
 * the early syncs' do. Linux only, with `--allow-ffi`, on file systems that take `O_DIRECT` (tmpfs
 * takes it, and caches anyway): `openDirect` returns undefined elsewhere. A write the disk refuses
 * returns false, and the caller writes those bytes through the page cache, which then names the
 * error (ENOSPC, EIO).
 */
import { DIRECT_ALIGN, isAligned } from "../../../lib/deno/aligned.ts";
import { type Libc, O } from "../../../lib/deno/libc.ts";
import { openSecond } from "./second_fd.ts";

/** Bytes written directly in this process (for tests and the curious). */
export const directWrites = { bytes: 0 };

/**
 * How many of `bytes`, to be written at file offset `at`, can go direct: the whole blocks from its
 * start, when both it and `at` are aligned; else none.
 */
export function directPart(bytes: Uint8Array, at: number): number {
  if (at % DIRECT_ALIGN !== 0 || !isAligned(bytes)) return 0;
  return bytes.length - (bytes.length % DIRECT_ALIGN);
}

/** A file's second descriptor, opened for direct writes; `close` it when done. */
export class DirectFile {
  readonly #libc: Libc;
  readonly #fd: number;
  #closed = false;

  constructor(lib: Libc, fd: number) {
    this.#libc = lib;
    this.#fd = fd;
  }

  /**
   * Writes all of `bytes` (a `directPart`) at `at`; false if the disk refused, perhaps after
   * writing part of them: the caller writes them all again through the page cache.
   */
  async write(bytes: Uint8Array, at: number): Promise<boolean> {
    for (let done = 0; done < bytes.length;) {
      const n = Number(
        await this.#libc.pwrite(
          this.#fd,
          bytes.subarray(done),
          BigInt(bytes.length - done),
          BigInt(at + done),
        ),
      );
      if (n <= 0) return false;
      done += n;
    }
    directWrites.bytes += bytes.length;
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.close(this.#fd);
  }
}

/** `path` opened for direct writes; undefined where that isn't possible. */
export function openDirect(path: string): DirectFile | undefined {
  const second = openSecond(path, O.WRONLY | O.DIRECT);
  return second && new DirectFile(second.libc, second.fd);
}
