/**
 * The servers a row uploads to, each started fresh in the row's scope and measured while it runs:
 * ours (`main.ts server` as the `server` task runs it), tusd, and any child that prints a ready
 * line (the sink, @tus/server).
 */
import { startServer as startMain } from "../../tests/helpers/server.ts";
import { cpuSeconds, REPO, type Scope, tryRun } from "./process.ts";

/** The line our server, the sink and the peer print once they accept connections. */
const LISTENING = /^listening on (http:\/\/\S+)$/;
/** How long a server may take to print its ready line on a loaded machine. */
const START_TIMEOUT_MS = 60_000;

export interface Server {
  url: string;
  pid: number;
  /** Where the bytes of upload `id` are kept. */
  dataPath(id: string): string;
  /** Peak RSS so far, KiB. */
  peakRss(): number;
  /** CPU seconds (user + system, all threads) used so far. */
  cpu(): number;
}

/** Starts `argv` in `cwd` and resolves once it printed a line matching `listening`. */
export async function startServer(
  scope: Scope,
  what: string,
  argv: string[],
  cwd: string,
  dataPath: (id: string) => string,
  listening = LISTENING,
): Promise<Server> {
  const [cmd, ...args] = argv;
  const p = scope.spawn(cmd!, args, cwd);
  const url = await p.waitFor(listening, START_TIMEOUT_MS, what);
  return measured(scope, url, p.pid, dataPath);
}

function measured(scope: Scope, url: string, pid: number, dataPath: Server["dataPath"]): Server {
  const rss = scope.watch(pid);
  return { url, pid, dataPath, peakRss: rss.read, cpu: () => cpuSeconds(pid) };
}

/** Ours, as `deno task server` runs it, on a fresh --dir in the scope's root. */
export async function startOurs(scope: Scope, extra: string[] = []): Promise<Server> {
  const server = scope.use(
    await startMain({
      asTask: true,
      tempDir: scope.root,
      args: extra,
      startTimeoutMs: START_TIMEOUT_MS,
    }),
  );
  return measured(scope, server.url, server.process.pid, (id) => server.dataPath(id));
}

export async function startTusd(scope: Scope, tusd: string): Promise<Server> {
  const dir = await scope.tempDir("tusd-data-");
  return await startServer(
    scope,
    "tusd",
    [tusd, "-port", "0", "-dir", dir],
    dir,
    (id) => `${dir}/${id}`,
    /^READY (http:\/\/\S+)$/,
  );
}

/**
 * The tusd binary: `--tusd PATH`, else built by the peers' script in shared/ beside the checkout
 * (it prints the binary's path last); `skipped`, with why, when neither works.
 */
export async function findTusd(given: string | undefined): Promise<string | { skipped: string }> {
  if (given) return given;
  for (const up of ["..", "../.."]) {
    const script = `${REPO}/${up}/shared/peers/tusd/build.sh`;
    if (!(await Deno.stat(script).then(() => true, () => false))) continue;
    const out = await tryRun(script, []);
    const path = out?.trim().split("\n").pop();
    if (path) return path;
    return { skipped: `tusd rows skipped: ${script} failed to build it` };
  }
  return {
    skipped: "tusd rows skipped: no shared/peers/tusd/build.sh beside the checkout (--tusd)",
  };
}
