/**
 * Early writeback: while a body is still arriving, the kernel is asked to start writing out the
 * pages already written (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so the fsync before the
 * acknowledgement finds little left to do and the disk works while the network does. It makes
 * nothing durable by itself (no wait, no metadata): the fsync alone still decides what may be
 * acknowledged, and any write error it meets is reported by that fsync.
 *
 * Deno's `FsFile` exposes no descriptor, so the file is opened a second time through libc for
 * the range calls (they act on the file's pages, whichever descriptor names it). Linux only, with
 * `--allow-ffi`; elsewhere `openWriteback` returns undefined and the fsync does all the work.
 */

const SYNC_FILE_RANGE_WRITE = 2;
const O_RDONLY_CLOEXEC = 0o2000000;
/** Bytes written between two writeback requests: big enough to be few, small enough to overlap. */
export const WRITEBACK_STEP = 4 * 1024 * 1024;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  sync_file_range: { parameters: ["i32", "i64", "i64", "u32"], result: "i32", nonblocking: true },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

/** Writeback requests made in this process (for tests and the curious). */
export const writebackRequests = { count: 0 };

function load(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    libc = null;
  }
  return libc;
}

/** Writeback of one file as it grows; `close` once the writer is done (before or after fsync). */
export class Writeback {
  readonly #libc: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #fd: number;
  /** Everything before this has been handed to the kernel. */
  #from: number;
  #running: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Requests made so far (for tests). */
  requests = 0;

  constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>, fd: number, from: number) {
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
      this.#libc.symbols.sync_file_range(
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
    this.#libc.symbols.close(this.#fd);
  }
}

/** Writeback for `path`, whose bytes before `from` are already handled; undefined where unsupported. */
export function openWriteback(path: string, from: number): Writeback | undefined {
  const lib = load();
  if (!lib) return undefined;
  const fd = lib.symbols.open(new TextEncoder().encode(path + "\0"), O_RDONLY_CLOEXEC);
  return fd < 0 ? undefined : new Writeback(lib, fd, from);
}
