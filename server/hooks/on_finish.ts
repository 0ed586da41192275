/**
 * `--on-finish CMD`: runs CMD (split into argv, no shell) for each finished upload, with the
 * `post-finish` event as JSON on stdin. Runs never hold up the request that finished the upload;
 * at most `maxRunning` run at once and up to `maxWaiting` more wait their turn (beyond that they
 * are dropped and logged). A run that outlives the timeout is killed. Failures (exit status,
 * signal, spawn error, timeout) are logged with the tail of the command's stderr; its stdout is
 * discarded. Runs are not persisted: a crash loses those not yet started — the `post-finish` hook
 * URL is the at-least-once channel.
 */
import { envVar } from "../../lib/deno/env.ts";
import type { HookEvent } from "./events.ts";

/** Bytes of a failed command's stderr kept for the log line. */
const STDERR_TAIL = 2048;

export type RunResult = "ok" | "failed" | "timeout" | "dropped";

export interface OnFinishOptions {
  timeoutMs: number;
  maxRunning?: number;
  maxWaiting?: number;
  /** Hears every run's end (and drops); `detail` says what went wrong. */
  onResult?: (result: RunResult, detail: string, event: HookEvent) => void;
}

export class OnFinish {
  readonly argv: readonly string[];
  readonly #options: OnFinishOptions;
  readonly #waiting: HookEvent[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #children = new Set<Deno.ChildProcess>();
  #stopped = false;

  constructor(argv: string[], options: OnFinishOptions) {
    if (argv.length === 0) throw new RangeError("--on-finish needs a command");
    this.argv = argv;
    this.#options = options;
  }

  /**
   * Throws unless this process may run the command (`--allow-run`), so a missing permission is
   * found at start rather than at the first finished upload.
   */
  assertAllowed(): void {
    const state = Deno.permissions.querySync({ name: "run", command: this.argv[0]! }).state;
    if (state !== "granted") {
      throw new RangeError(
        `--on-finish needs permission to run ${JSON.stringify(this.argv[0])}: ` +
          `start the server with --allow-run=${this.argv[0]}`,
      );
    }
  }

  /** Starts (or queues) a run for `event`; returns at once. */
  run(event: HookEvent): void {
    if (this.#stopped) return;
    if (this.#running.size < (this.#options.maxRunning ?? 4)) {
      this.#start(event);
    } else if (this.#waiting.length < (this.#options.maxWaiting ?? 100)) {
      this.#waiting.push(event);
    } else {
      this.#options.onResult?.("dropped", "too many --on-finish runs waiting", event);
    }
  }

  /** Runs in progress and waiting. */
  get pending(): number {
    return this.#running.size + this.#waiting.length;
  }

  /** Waits for every run started so far (those waiting start too); for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Stops starting runs (waiting ones are dropped, and logged), gives those running `graceMs` to
   * end, then kills them.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    for (const event of this.#waiting.splice(0)) {
      this.#options.onResult?.("dropped", "the server stopped before it ran", event);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([this.idle(), grace]);
    clearTimeout(timer);
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await this.idle();
  }

  #start(event: HookEvent): void {
    const run = this.#exec(event).finally(() => {
      this.#running.delete(run);
      const next = this.#waiting.shift();
      if (next && !this.#stopped) this.#start(next);
    });
    this.#running.add(run);
  }

  async #exec(event: HookEvent): Promise<void> {
    const [program, ...args] = this.argv;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program!, {
        args,
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
        // The server's secrets (auth secret, S3 and database credentials) stay with the server.
        clearEnv: true,
        env: childEnv(),
      }).spawn();
    } catch (error) {
      this.#options.onResult?.("failed", `could not start: ${(error as Error).message}`, event);
      return;
    }
    this.#children.add(child);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, this.#options.timeoutMs);
    const errors = tail(child.stderr);
    try {
      const [status] = await Promise.all([
        child.status,
        feed(child.stdin, new TextEncoder().encode(JSON.stringify(event) + "\n")),
      ]);
      // A grandchild may hold stderr open long after the command ended: don't wait for it.
      const stderr = await errors.settle(STDERR_GRACE_MS);
      if (timedOut) {
        this.#options.onResult?.(
          "timeout",
          `killed after ${this.#options.timeoutMs} ms${stderr ? `; stderr: ${stderr}` : ""}`,
          event,
        );
      } else if (!status.success) {
        const how = status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`;
        this.#options.onResult?.("failed", `${how}${stderr ? `; stderr: ${stderr}` : ""}`, event);
      } else {
        this.#options.onResult?.("ok", "", event);
      }
    } finally {
      clearTimeout(timer);
      this.#children.delete(child);
    }
  }
}

/** Writes the event and closes stdin; a command that doesn't read it is not an error. */
async function feed(stdin: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(bytes);
    await writer.close();
  } catch {
    // The command exited (or closed stdin) without reading everything: its exit status tells.
  }
}

/** The last bytes of a stream, read to its end, as one line of text. */
/** How long stderr may stay open once the command has ended (a background grandchild). */
const STDERR_GRACE_MS = 200;

/**
 * Keeps the last STDERR_TAIL bytes of `stream` as they come; `settle(ms)` waits at most `ms`
 * more for its end, stops reading and gives the text (control characters flattened).
 */
function tail(stream: ReadableStream<Uint8Array>): { settle(ms: number): Promise<string> } {
  let kept = new Uint8Array(0);
  const reader = stream.getReader();
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const joined = new Uint8Array(kept.length + value.length);
      joined.set(kept);
      joined.set(value, kept.length);
      kept = joined.length > STDERR_TAIL ? joined.slice(joined.length - STDERR_TAIL) : joined;
    }
  })().catch(() => {});
  return {
    async settle(ms) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([done, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
      clearTimeout(timer);
      await reader.cancel().catch(() => {});
      // deno-lint-ignore no-control-regex
      return new TextDecoder().decode(kept).replace(/[\x00-\x1f\x7f]+/g, " ").trim();
    },
  };
}

/**
 * The environment a command gets: PATH, HOME, locale and time zone where this process may read
 * them, nothing else of the server's. (Without PATH, Deno still finds the program on its own.)
 */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "LANG", "TZ"]) {
    const value = envVar(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
