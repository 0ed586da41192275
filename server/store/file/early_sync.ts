/**
 * Early syncs: while a body is still arriving, what it has written so far is fdatasynced on a
 * second descriptor (`second_fd.ts`), one sync at a time, the next starting as soon as the last
 * returns if more was written meanwhile. A disk with a volatile cache (a virtual disk backed by the
 * host's page cache) takes time in proportion to what it must flush, ~0.9 ms per MiB here: left to
 * the fsync before the acknowledgement, that was 0.36 s of a 512 MiB PATCH and 8 ms of an 8 MiB
 * one, spent after the last byte with the network idle (`bench/RESULTS.md`, round 9). Overlapped,
 * the final fsync finds almost nothing left.
 *
 * It makes nothing acknowledged by itself: the fsync on the writer's own descriptor still decides.
 * A failed early sync fails the append too (`close` says so): a write error is also reported to
 * that descriptor (the kernel tells every descriptor open when it happened), but a failed cache
 * flush is told only to the sync that met it. Linux only, with `--allow-ffi`; elsewhere
 * `openEarlySync` returns undefined and the final fsync does all the work.
 */
import { type Libc, O } from "../../../lib/deno/libc.ts";
import { openSecond } from "./second_fd.ts";

/** Early syncs made in this process (for tests and the curious). */
export const earlySyncs = { count: 0 };

/** Early syncs of one file as it grows; `close` once the writer is done, before its fsync. */
export class EarlySync {
  readonly #libc: Libc;
  readonly #fd: number;
  /** Everything before this is synced, or being synced. */
  #from: number;
  #running: Promise<void> | undefined;
  /** Written up to here; the next sync starts when the running one ends. */
  #pending: number | undefined;
  #failed = false;
  #closed = false;

  constructor(lib: Libc, fd: number, from: number) {
    this.#libc = lib;
    this.#fd = fd;
    this.#from = from;
  }

  /** The file now holds bytes up to `end`: sync them, now or once the running sync ends. */
  advance(end: number): void {
    if (this.#closed || end <= this.#from) return;
    if (this.#running) {
      this.#pending = end;
      return;
    }
    this.#from = end;
    this.#running = this.#sync();
  }

  async #sync(): Promise<void> {
    // Never awaited by the writer: the body keeps flowing.
    try {
      for (;;) {
        earlySyncs.count++;
        if (await this.#libc.fdatasync(this.#fd) !== 0) this.#failed = true;
        const pending = this.#pending;
        this.#pending = undefined;
        if (this.#closed || pending === undefined || pending <= this.#from) break;
        this.#from = pending;
      }
    } catch {
      this.#failed = true;
    } finally {
      this.#running = undefined;
    }
  }

  /**
   * Ends: waits for the sync under way (the writer's fsync then has only the rest to flush),
   * closes the second descriptor; false if an early sync failed.
   */
  async close(): Promise<boolean> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#running;
      this.#libc.close(this.#fd);
    }
    return !this.#failed;
  }
}

/** Early syncs of `path`, whose bytes before `from` need none; undefined where unsupported. */
export function openEarlySync(path: string, from: number): EarlySync | undefined {
  const second = openSecond(path, O.RDONLY);
  return second && new EarlySync(second.libc, second.fd, from);
}
