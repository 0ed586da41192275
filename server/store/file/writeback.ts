/**
 * Early writeback: while a body is still arriving, the kernel is asked to start writing out the
 * pages already written (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so the fsync before the
 * acknowledgement finds little left to do and the disk works while the network does. It makes
 * nothing durable by itself (no wait, no metadata): the fsync alone still decides what may be
 * acknowledged, and any write error it meets is reported by that fsync.
 *
 * The range calls go to a second descriptor (`second_fd.ts`): they act on the file's pages,
 * whichever descriptor names it. Linux only, with `--allow-ffi`; elsewhere `openWriteback` returns
 * undefined and the fsync does all the work.
 */
import { type Libc, openSecond } from "./second_fd.ts";

const SYNC_FILE_RANGE_WRITE = 2;
const O_RDONLY = 0;
/** Bytes written between two writeback requests: big enough to be few, small enough to overlap. */
export const WRITEBACK_STEP = 4 * 1024 * 1024;

/** Writeback requests made in this process (for tests and the curious). */
export const writebackRequests = { count: 0 };

/** Writeback of one file as it grows; `close` once the writer is done (before or after fsync). */
export class Writeback {
  readonly #libc: Libc;
  readonly #fd: number;
  /** Everything before this has been handed to the kernel. */
  #from: number;
  #running: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Requests made so far (for tests). */
  requests = 0;

  constructor(lib: Libc, fd: number, from: number) {
    this.#libc = lib;
    this.#fd = fd;
    this.#from = from;
  }

  /** The file now holds bytes up to `end`: start writing them out once a step has gathered. */
  advance(end: number): void {
    if (this.#closed || end - this.#from < WRITEBACK_STEP) return;
    const [from, length] = [this.#from, end - this.#from];
    this.#from = end;
    this.requests++;
    writebackRequests.count++;
    // One request at a time (each may block while the device queue is full); never awaited by
    // the writer: the body keeps flowing.
    this.#running = this.#running.then(() =>
      this.#libc.sync_file_range(
        this.#fd,
        BigInt(from),
        BigInt(length),
        SYNC_FILE_RANGE_WRITE,
      )
    );
  }

  /** Ends: waits for the request under way, then closes the second descriptor. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#running.catch(() => {});
    this.#libc.close(this.#fd);
  }
}

/** Writeback for `path`, whose bytes before `from` are already handled; undefined where unsupported. */
export function openWriteback(path: string, from: number): Writeback | undefined {
  const second = openSecond(path, O_RDONLY);
  return second && new Writeback(second.libc, second.fd, from);
}
