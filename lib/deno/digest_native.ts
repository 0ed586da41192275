/**
 * MD5 + SHA-256 with libcrypto (`libcrypto.ts`), each update on one of the runtime's blocking
 * threads: an upload's MD5 and SHA-256 run on two cores at once (so it is bound by MD5 alone),
 * and concurrent uploads on as many threads as they need, without Web Workers (no isolate's
 * memory, no message passing). Bytes are copied once into pooled pieces that both hashes read;
 * bytes in flight are bounded per state and in total, so memory stays flat. A caller that keeps
 * its bytes still until they are hashed (`borrow`) saves the copy and the pieces; one that fills a
 * pooled piece itself (`takePiece`, then `adopt`: the file store's write buffer) hands it over
 * uncopied.
 */
import type { Digests } from "../digest_header.ts";
import type { RunningDigest } from "./digest_pool.ts";
import { SpareBuffers } from "../spare_buffers.ts";
import { alignedBytes } from "./aligned.ts";
import { type Libcrypto, nativeHash } from "./libcrypto.ts";

/** Bytes one state may have queued before `update` waits (pipeline depth). */
const IN_FLIGHT = 4 * 1024 * 1024;
/**
 * Bytes all states together may have queued: 10 uploads share 4 MiB, not 40 (one upload still
 * gets its whole depth, and two cores are kept busy by two pieces). 8 MiB, with direct writes
 * holding pieces longer, took ten concurrent uploads past 128 MiB (bench/RESULTS.md, round 8).
 */
export const TOTAL_IN_FLIGHT = 4 * 1024 * 1024;
/** Bytes per call: long enough that a thread hand-off (~20 µs) is noise beside it (~2 ms). */
export const PIECE = 1024 * 1024;
/**
 * Pieces, and as many idle ones kept for reuse as the shared bound can have queued. Aligned, so
 * that the file store can write a piece it filled straight to the disk before it is hashed.
 */
const pieces = new SpareBuffers(PIECE, TOTAL_IN_FLIGHT / PIECE, () => alignedBytes(PIECE));
/** Bytes queued by all states now, and the most seen at once (for tests). */
export const queued = { bytes: 0, peak: 0 };
/** Everyone waiting for the shared bound to drop. */
const blocked = new Set<() => void>();

/** Hash calls running now, and the most seen at once (threads busy hashing; for tests). */
export const threads = { running: 0, peak: 0 };

/**
 * A piece (`PIECE` bytes, from the pool: its pages are warm) for a caller to fill and hand to
 * `adopt`, which hashes it without a copy and puts it back; or to give back with `givePiece`.
 */
export function takePiece(): Uint8Array {
  return pieces.take();
}

/** Idle pieces: how many `takePiece` can hand out without making one. */
export function sparePieces(): number {
  return pieces.idle;
}

/** Puts a piece from `takePiece` back for reuse; the caller must not touch it again. */
export function givePiece(piece: Uint8Array): void {
  pieces.give(piece);
}

function call(run: () => Promise<number>): Promise<void> {
  threads.running++;
  threads.peak = Math.max(threads.peak, threads.running);
  return run().then(() => void threads.running--);
}

export function nativeDigest(lib: Libcrypto): RunningDigest {
  const md5 = nativeHash(lib, "md5");
  const sha256 = nativeHash(lib, "sha256");
  // Each context's updates in order: one chain per algorithm, the two chains side by side.
  let md5Done = Promise.resolve();
  let sha256Done = Promise.resolve();
  let inFlight = 0;
  let length = 0;
  let dropped = false;
  let finished = false;
  let resume: (() => void) | undefined;
  const wake = () => resume?.();

  /**
   * Waits until `n` more bytes fit within this state's depth and the shared bound (at its own
   * depth it waits for its hashes; at the shared bound, for anyone's), and counts them in at once,
   * before anyone else woken with it can: pieces are queued only within both bounds, so the
   * bounds hold the pieces' memory too. False if the state was dropped meanwhile.
   */
  async function reserve(n: number): Promise<boolean> {
    while ((inFlight + n > IN_FLIGHT || queued.bytes + n > TOTAL_IN_FLIGHT) && !dropped) {
      await new Promise<void>((resolve) => {
        resume = resolve;
        blocked.add(resolve);
      });
      blocked.delete(resume!);
      resume = undefined;
    }
    if (dropped) return false;
    inFlight += n;
    queued.bytes += n;
    queued.peak = Math.max(queued.peak, queued.bytes);
    return true;
  }

  /** Queues `bytes` for both hashes, each on its own thread, behind what is queued already. */
  function hashBoth(bytes: Uint8Array): void {
    length += bytes.length;
    md5Done = md5Done.then(() => call(() => md5.updateAsync(bytes)));
    sha256Done = sha256Done.then(() => call(() => sha256.updateAsync(bytes)));
  }

  /** Hashes `piece` (the start of a pooled buffer, reserved) on both threads, then puts it back. */
  function feed(piece: Uint8Array): void {
    const n = piece.length;
    hashBoth(piece);
    // The piece is free once both hashes are done with it, read or failed (`digest` reports a
    // failure); settled, so a failure is never an unhandled rejection here.
    Promise.allSettled([md5Done, sha256Done]).then(() => {
      givePiece(piece);
      inFlight -= n;
      queued.bytes -= n;
      if (inFlight <= IN_FLIGHT / 2) wake();
      if (queued.bytes <= TOTAL_IN_FLIGHT / 2) { for (const b of blocked) b(); }
    });
  }

  return {
    get length() {
      return length;
    },
    async update(bytes) {
      for (let at = 0; at < bytes.length && !dropped; at += PIECE) {
        const part = bytes.subarray(at, at + PIECE);
        if (!(await reserve(part.length))) return;
        const piece = takePiece();
        piece.set(part);
        feed(piece.subarray(0, part.length));
      }
    },
    async adopt(piece) {
      if (piece.length > PIECE) return await this.update(piece);
      if (await reserve(piece.length)) feed(piece);
      else givePiece(piece);
    },
    borrow(bytes) {
      if (dropped || bytes.length === 0) return Promise.resolve();
      hashBoth(bytes);
      return Promise.all([md5Done, sha256Done]).then(() => {});
    },
    async digest(): Promise<Digests> {
      if (dropped || finished) throw new Error("The digest was dropped");
      await Promise.all([md5Done, sha256Done]);
      if (dropped) throw new Error("The digest was dropped");
      finished = true;
      return { md5: md5.final(), sha256: sha256.final() };
    },
    drop() {
      dropped = true;
      // A writer waiting on the bound must not wait forever; the queued calls run out alone.
      if (resume) blocked.delete(resume);
      wake();
    },
  };
}
