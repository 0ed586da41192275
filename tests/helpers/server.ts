/**
 * Runs the real server (`main.ts server --port 0`) as a child process for end-to-end tests.
 *
 *     await using server = await startServer({ expire: "2s" });
 *     await fetch(server.url, { method: "POST", headers: { "Upload-Length": "10" } });
 *
 * The server runs with the same permissions as the `server` task, in a fresh temporary directory
 * (`root`) whose `data` subdirectory is `--dir`, so a test can check nothing appears beside it.
 * Disposal kills the child (SIGKILL if still running), drains its pipes and removes `root`.
 *
 * The benchmarks start their servers here too (with `asTask`), so nothing in this file may depend
 * on the test framework.
 */

import { track } from "./children.ts";
import { SERVER_PERMISSIONS, SERVER_TASK_FLAGS } from "./deno_task.ts";
import { withDeadline } from "./wait.ts";

const REPO = decodeURIComponent(new URL("../..", import.meta.url).pathname);
const MAIN = decodeURIComponent(new URL("../../main.ts", import.meta.url).pathname);
const LISTENING = /^listening on (https?:\/\/\S+)$/;

export interface ServerOptions {
  /** `--expire` (e.g. "2s"). */
  expire?: string;
  /** `--max-size` (e.g. "10MiB" or a byte count). */
  maxSize?: string | number;
  /** More flags, appended after the others. */
  args?: string[];
  /** How long to wait for the `listening on` line (default 15 s). */
  startTimeoutMs?: number;
  /** Environment variables for the server process (e.g. `RESUMABLE_MAX_SIZE`), over the test's own. */
  env?: Record<string, string>;
  /** Permissions beyond the `server` task's, e.g. `--allow-run=sh` for `--on-finish`. */
  permissions?: string[];
  /** Runs it exactly as `deno task server` does, V8 options included (default: the permissions). */
  asTask?: boolean;
  /** Where the temporary `root` is made (default: the system's temp dir). */
  tempDir?: string;
}

export interface TestServer extends AsyncDisposable {
  /** The upload collection, e.g. `http://127.0.0.1:41234/files` (https with TLS; changes on restart). */
  readonly url: string;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly hostname: string;
  readonly port: number;
  /** The temporary directory that holds `dir` and nothing else. */
  readonly root: string;
  /** The server's `--dir`. */
  readonly dir: string;
  /** The current child process. */
  readonly process: Deno.ChildProcess;
  /** Everything every run of the server wrote to stderr so far. */
  readonly stderr: string;
  /** What the current run wrote to stdout (the `listening on` line and anything after it). */
  readonly stdout: string;
  /** True once the current child has exited. */
  readonly exited: boolean;
  /** Resolves with the current child's exit status (pipes drained). */
  status(): Promise<Deno.CommandStatus>;
  /** Sends `signal` (default SIGTERM) unless already exited; resolves with the exit status. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Stops the current child if still running (SIGTERM), then starts again on the same --dir. */
  restart(): Promise<void>;
  /** Data file of an upload: `<dir>/<id[0:2]>/<id[2:4]>/<id>`. */
  dataPath(id: string): string;
  /** Info file of an upload: the data path + `.info`. */
  infoPath(id: string): string;
}

/** Starts the server and resolves once it printed `listening on …`. */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const root = await Deno.makeTempDir({
    prefix: "resumable-e2e-",
    ...(options.tempDir === undefined ? {} : { dir: options.tempDir }),
  });
  const dir = `${root}/data`;
  const args = ["--port", "0", "--dir", dir];
  if (options.expire !== undefined) args.push("--expire", options.expire);
  if (options.maxSize !== undefined) args.push("--max-size", String(options.maxSize));
  args.push(...(options.args ?? []));
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  const env = options.env ?? {};
  const flags = [
    ...(options.asTask ? SERVER_TASK_FLAGS : SERVER_PERMISSIONS),
    ...(options.permissions ?? []),
  ];
  let previousStderr = "";
  let child: ServerProcess;
  try {
    child = await ServerProcess.start(args, env, timeoutMs, flags);
  } catch (error) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw error;
  }
  const url = () => new URL(child.url);
  const server: TestServer = {
    get url() {
      return child.url;
    },
    get origin() {
      return url().origin;
    },
    get hostname() {
      return url().hostname;
    },
    get port() {
      return Number(url().port);
    },
    root,
    dir,
    get process() {
      return child.process;
    },
    get stderr() {
      return previousStderr + child.stderr;
    },
    get stdout() {
      return child.stdout;
    },
    get exited() {
      return child.exited;
    },
    status: () => child.status(),
    kill: (signal: Deno.Signal = "SIGTERM") => child.kill(signal),
    async restart() {
      if (!child.exited) await child.kill("SIGTERM");
      await child.status();
      previousStderr += child.stderr;
      child = await ServerProcess.start(args, env, timeoutMs, flags);
    },
    dataPath(id) {
      return `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
    },
    infoPath(id) {
      return `${this.dataPath(id)}.info`;
    },
    async [Symbol.asyncDispose]() {
      try {
        if (!child.exited) await child.kill("SIGKILL");
        await child.status();
      } finally {
        await Deno.remove(root, { recursive: true }).catch(() => {});
      }
    },
  };
  return server;
}

/** One run of the server process. */
class ServerProcess {
  readonly process: Deno.ChildProcess;
  url = "";
  stdout = "";
  stderr = "";
  exited = false;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #pumps: Promise<unknown>;
  readonly #listening = Promise.withResolvers<string>();

  private constructor(args: string[], env: Record<string, string>, flags: string[]) {
    this.process = track(spawnMainWith(flags, ["server", ...args], env));
    this.#listening.promise.catch(() => {}); // observed in start(); never unhandled
    const status = this.process.status.then((s) => {
      this.exited = true;
      return s;
    });
    this.#pumps = Promise.all([this.#readStdout(), this.#readStderr()]);
    // Exit status only once both pipes are drained, so `stderr` is complete by then.
    this.#status = Promise.all([status, this.#pumps]).then(([s]) => s);
  }

  static async start(
    args: string[],
    env: Record<string, string>,
    timeoutMs: number,
    flags: string[],
  ): Promise<ServerProcess> {
    const child = new ServerProcess(args, env, flags);
    try {
      child.url = await withDeadline(
        child.#listening.promise,
        timeoutMs,
        'the server to print "listening on …"',
      );
      return child;
    } catch (error) {
      if (!child.exited) await child.kill("SIGKILL");
      const status = await child.status();
      throw new Error(
        `Server did not start (${
          String(error)
        }; exit code ${status.code}, signal ${status.signal})` +
          `\n--- stdout ---\n${child.stdout}\n--- stderr ---\n${child.stderr}`,
      );
    }
  }

  status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    if (!this.exited) {
      try {
        this.process.kill(signal);
      } catch (error) {
        // It exited between the check and the kill: nothing to signal.
        if (!(error instanceof TypeError)) throw error;
      }
    }
    return await this.#status;
  }

  async #readStdout(): Promise<void> {
    let line = "";
    for await (const text of this.process.stdout.pipeThrough(new TextDecoderStream())) {
      this.stdout += text;
      if (this.url !== "") continue;
      line += text;
      for (let nl = line.indexOf("\n"); nl >= 0; nl = line.indexOf("\n")) {
        const match = LISTENING.exec(line.slice(0, nl).trim());
        line = line.slice(nl + 1);
        if (match) {
          this.#listening.resolve(match[1]!);
          break;
        }
      }
    }
    this.#listening.reject(new Error("stdout closed before the listening line"));
  }

  async #readStderr(): Promise<void> {
    for await (const text of this.process.stderr.pipeThrough(new TextDecoderStream())) {
      this.stderr += text;
    }
  }
}

export interface CliResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `main.ts` with `args` (server permissions) and `env` over the test's environment, killing it
 * if it outlives `timeoutMs`.
 */
export function runMain(
  args: string[],
  timeoutMs = 15_000,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return runMainWith(SERVER_PERMISSIONS, args, timeoutMs, env);
}

/** Runs `main.ts` with `permissions` and `args` to its end (SIGKILL after the deadline). */
export async function runMainWith(
  permissions: string[],
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const child = spawnMainWith(permissions, args, env);
  const { code, signal, stdout, stderr } = await outputWithin(
    child,
    timeoutMs,
    `main.ts ${args.join(" ")}`,
  );
  const decoder = new TextDecoder();
  return { code, signal, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Starts `main.ts` with `permissions` and `args`, stdout and stderr piped; the caller reaps it. */
export function spawnMainWith(
  permissions: string[],
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, ...args],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
}

/** A child's whole output, or (past `timeoutMs`) the child SIGKILLed and a TimeoutError. */
export async function outputWithin(
  child: Deno.ChildProcess,
  timeoutMs: number,
  what: string,
): Promise<Deno.CommandOutput> {
  const output = child.output();
  try {
    return await withDeadline(output, timeoutMs, what);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await output.catch(() => {});
    throw error;
  }
}
