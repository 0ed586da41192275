/**
 * The children of a benchmark: started tracked (every one is killed on any exit), grouped in a
 * `Scope` per row that kills them and removes its directories when disposed, measured for wall
 * time, peak RSS and CPU from /proc.
 */
import { track } from "../../tests/helpers/children.ts";

/** The checkout's root, without a trailing slash. */
export const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname).slice(0, -1);
export const BENCH = `${REPO}/bench`;
export const MiB = 1024 * 1024;

/** Keeps at most this much of each stdout (the head: the JSON read back is small). */
const OUTPUT_CAP = 8 * MiB;
/** Keeps this much of each stderr (the tail: where the error is). */
const STDERR_TAIL = 64 * 1024;

export interface Spawned {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited and its output is read. */
  readonly done: Promise<Deno.CommandStatus>;
  /** Resolves with the first capture group once a complete stdout line matches. */
  waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<string>;
  kill(): void;
}

export function spawnTracked(cmd: string, args: string[], cwd: string): Spawned {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  track(child);
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, append: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      append(text);
      for (const w of waiters) w();
    }
  };
  let exited = false;
  const done = Promise.all([
    child.status,
    pump(child.stdout, (t) => {
      if (stdout.length < OUTPUT_CAP) stdout += t;
    }),
    pump(child.stderr, (t) => {
      stderr = (stderr + t).slice(-STDERR_TAIL);
    }),
  ]).then(([status]) => {
    exited = true;
    for (const w of waiters) w();
    return status;
  });
  return {
    pid: child.pid,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
    waitFor(pattern, timeoutMs, what) {
      return new Promise<string>((resolve, reject) => {
        const settle = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        const timer = setTimeout(() => {
          settle(() =>
            reject(new Error(`${what}: nothing matching ${pattern} within ${timeoutMs} ms`))
          );
        }, timeoutMs);
        const check = () => {
          const lines = stdout.slice(0, stdout.lastIndexOf("\n") + 1).split("\n");
          const m = lines.map((line) => pattern.exec(line.trim())).find((m) => m !== null);
          if (m) settle(() => resolve(m[1] ?? m[0]));
          else if (exited) {
            settle(() =>
              reject(new Error(`${what} exited before ready: ${tail(stderr || stdout)}`))
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
    kill() {
      if (exited) return;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    },
  };
}

/** The last `n` characters of a process's output, for an error message. */
export function tail(text: string, n = 400): string {
  const t = text.trim();
  return t.length > n ? `…${t.slice(-n)}` : t;
}

export interface RssWatch {
  /** Reads now; returns the peak so far. */
  read(): number;
  /** Stops polling; returns the peak seen. */
  stop(): number;
}

/**
 * Peak RSS of a live process, in KiB: VmHWM from /proc (the kernel's own high-water mark), polled
 * every 25 ms so the last value before exit is kept for a process that ends by itself (a peak in
 * its last 25 ms can be missed).
 */
export function watchRss(pid: number): RssWatch {
  let peak = 0;
  const read = () => {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch { /* gone */ }
    return peak;
  };
  read();
  const timer = setInterval(read, 25);
  return {
    read,
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/**
 * Two consecutive clock-tick fields of a /proc `stat` file as seconds: `utime, stime` (index 11)
 * or `cutime, cstime` (13, counted after the ") " that ends the command's name).
 */
function statSeconds(path: string, index: number): number {
  const fields = Deno.readTextFileSync(path).split(") ")[1]!.split(" ");
  return (Number(fields[index]) + Number(fields[index + 1])) / 100;
}

/** CPU seconds (user + system) a live process has used, from /proc (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    return statSeconds(`/proc/${pid}/stat`, 11);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system) of this process's children that have exited and been waited for
 * (cutime, cstime): read before and after a child, the difference is all it used, to its end.
 */
function exitedChildrenCpu(): number {
  return statSeconds("/proc/self/stat", 13);
}

/** The processes and directories of one row (one repetition): all gone when it is disposed. */
export class Scope implements AsyncDisposable {
  readonly #children: Spawned[] = [];
  readonly #dirs: string[] = [];
  readonly #watchers: (() => void)[] = [];
  readonly #owned: AsyncDisposable[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  timedOut = false;

  /** `root`: where its temp dirs are made. */
  constructor(readonly root: string) {}

  /** Kills everything in this scope after `ms` (the row then fails with "timed out"). */
  deadline(ms: number): void {
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      for (const c of this.#children) c.kill();
      for (const o of this.#owned) void dispose(o);
    }, ms);
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await Deno.makeTempDir({ dir: this.root, prefix });
    this.#dirs.push(dir);
    return dir;
  }

  spawn(cmd: string, args: string[], cwd = REPO): Spawned {
    const spawned = spawnTracked(cmd, args, cwd);
    this.#children.push(spawned);
    return spawned;
  }

  /** Disposes of `resource` (e.g. a server started elsewhere) with the scope. */
  use<T extends AsyncDisposable>(resource: T): T {
    this.#owned.push(resource);
    return resource;
  }

  /** Peak RSS of a process of this scope (see watchRss); stops polling with the scope. */
  watch(pid: number): RssWatch {
    const watch = watchRss(pid);
    this.#watchers.push(watch.stop);
    return watch;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    clearTimeout(this.#timer);
    for (const stop of this.#watchers) stop();
    for (const c of this.#children) c.kill();
    await Promise.all([
      ...this.#children.map((c) => c.done.catch(() => {})),
      ...this.#owned.map(dispose),
    ]);
    for (const dir of this.#dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Disposes of `resource`; a failure there is the end of the row anyway. */
async function dispose(resource: AsyncDisposable): Promise<void> {
  try {
    await resource[Symbol.asyncDispose]();
  } catch { /* its process or directory is already gone */ }
}

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
  /** KiB */
  peakRss: number;
  /** CPU seconds (user + system), the command's and its waited-for children's. */
  cpu: number;
}

/**
 * Runs a command to its end; the clock runs from just before the spawn to its exit. Rows run one
 * at a time and their servers outlive this, so no other child ends meanwhile to count in `cpu`.
 */
export async function timed(
  scope: Scope,
  cmd: string,
  args: string[],
  cwd = REPO,
): Promise<Finished> {
  const cpu0 = exitedChildrenCpu();
  const t0 = performance.now();
  const p = scope.spawn(cmd, args, cwd);
  const rss = scope.watch(p.pid);
  const status = await p.done;
  const seconds = (performance.now() - t0) / 1000;
  const peakRss = rss.stop();
  if (scope.timedOut) throw new Error(`timed out: ${cmd} ${args.slice(0, 3).join(" ")} …`);
  const cpu = exitedChildrenCpu() - cpu0;
  return { code: status.code, stdout: p.stdout, stderr: p.stderr, seconds, peakRss, cpu };
}

/** Runs a helper command (not measured) and returns its stdout; throws on failure or timeout. */
export async function run(
  cmd: string,
  args: string[],
  cwd = REPO,
  timeoutMs = 600_000,
): Promise<string> {
  const p = spawnTracked(cmd, args, cwd);
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const status = await p.done.finally(() => clearTimeout(timer));
  if (!status.success) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${status.code}: ${tail(p.stderr)}`);
  }
  return p.stdout;
}

/** `run`, or undefined when the command is missing or fails. */
export async function tryRun(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    return await run(cmd, args);
  } catch {
    return undefined;
  }
}
