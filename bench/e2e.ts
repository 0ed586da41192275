/**
 * End-to-end throughput and memory, ours against the hardware limits and against @tus/server, all
 * measured in ONE run so that every claim can be a ratio (absolute speeds drift 30% between runs on
 * this kind of machine). Run: `deno task bench:e2e [--size 1GiB] [--reps 5] [--quick] [--out FILE]`.
 *
 * It creates the test file once (`client generate`), then repeats every row N times, interleaved
 * (rep 1: A B C …, rep 2: A B C …), each row with fresh processes and directories:
 *
 * - limits: `dd` with one fsync, `dd oflag=dsync` at 1 MiB and 8 MiB, `md5sum`, and curl into a
 *   `Deno.serve` sink on loopback;
 * - ours: curl sending one streaming PATCH to `main.ts server`, and our client (`main.ts client
 *   upload`) at 1 MiB, 8 MiB and one-PATCH chunk sizes, with the default checksum and with none;
 * - the peer: @tus/server + @tus/file-store under Node with tus-js-client under Node (npm-installed
 *   into a temp dir at bench time; skipped with a notice when node or npm is missing);
 * - many small uploads (creation-with-upload, 16 in flight), ours and the peer.
 *
 * Every row checks what was stored (the data file's size and MD5; the sink's byte count; md5sum's
 * output) and a row that fails is reported as FAILED, never as a speed. Peak RSS (VmHWM from
 * /proc) is taken for the server and the client process of every row. Every child is killed and
 * every temp dir removed on exit, and a row that fails or times out doesn't stop the others.
 *
 * The task runs it with --allow-all: Deno 2.9 lets nothing short of that read /proc (peak RSS), and
 * it runs arbitrary children (dd, curl, node, npm, deno) anyway.
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { formatBytes, parseSize } from "../lib/units.ts";
import { smallBody, type SmallUploadsReport } from "./small_uploads.ts";
import { targetsTable } from "./targets.ts";

const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const BENCH = `${REPO}/bench`;
const MiB = 1024 * 1024;
const LISTENING = /^listening on (http:\/\/\S+)$/m;

const USAGE = `Usage: deno task bench:e2e [options]

  --size SIZE         test file size (default 1GiB)
  --reps N            repetitions, interleaved (default 5)
  --quick             smoke run: 64MiB, 1 rep, 500 small uploads
  --small N           number of small uploads per small-upload row (default 2000)
  --small-size SIZE   bytes per small upload (default 4KiB)
  --concurrency N     small uploads in flight (default 16)
  --tusd PATH         the tusd binary (default: built by shared/peers/tusd/build.sh beside the
                      checkout; its rows are skipped with a notice when that fails)
  --only REGEX        run only the rows whose key or label matches (for debugging)
  --work-dir DIR      where the test file, outputs and data dirs go (default: the system temp
                      dir; it must be a real disk, not tmpfs, for fsync to mean anything)
  --out FILE          also write the report (machine, versions, tables) as markdown to FILE
  -h, --help          this help`;

// ---------------------------------------------------------------------------------------------
// Children and temp dirs: everything started is tracked, and killed/removed on any exit.

const LIVE = new Set<Deno.ChildProcess>();
let workRoot = "";

function killAll(): void {
  for (const child of LIVE) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

function cleanupSync(): void {
  killAll();
  if (workRoot !== "") {
    try {
      Deno.removeSync(workRoot, { recursive: true });
    } catch { /* already gone */ }
  }
}

interface Spawned {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited and its output is read. */
  readonly done: Promise<Deno.CommandStatus>;
  /** Resolves with the first capture group once stdout matches. */
  waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<string>;
  kill(): void;
}

/** Keeps at most this much of each output stream (the head for JSON, it is small). */
const OUTPUT_CAP = 8 * MiB;

/** The processes and directories of one row (one repetition): all gone when it is disposed. */
class Scope implements AsyncDisposable {
  readonly #children: Spawned[] = [];
  readonly #dirs: string[] = [];
  readonly #watchers: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  timedOut = false;

  /** Kills everything in this scope after `ms` (the row then fails with "timed out"). */
  deadline(ms: number): void {
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      for (const c of this.#children) c.kill();
    }, ms);
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await Deno.makeTempDir({ dir: workRoot, prefix });
    this.#dirs.push(dir);
    return dir;
  }

  spawn(cmd: string, args: string[], cwd = REPO): Spawned {
    const spawned = spawnTracked(cmd, args, cwd);
    this.#children.push(spawned);
    return spawned;
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
    await Promise.all(this.#children.map((c) => c.done.catch(() => {})));
    for (const dir of this.#dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function spawnTracked(cmd: string, args: string[], cwd: string): Spawned {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  LIVE.add(child);
  let stdout = "";
  let stderr = "";
  const waiters: (() => void)[] = [];
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
      stderr = (stderr + t).slice(-64 * 1024);
    }),
  ]).then(([status]) => {
    exited = true;
    LIVE.delete(child);
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
        const timer = setTimeout(() => {
          reject(new Error(`${what}: nothing matching ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          const m = pattern.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[1] ?? m[0]);
          } else if (exited) {
            clearTimeout(timer);
            reject(new Error(`${what} exited before ready: ${tail(stderr || stdout)}`));
          }
        };
        waiters.push(check);
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

function tail(text: string, n = 400): string {
  const t = text.trim();
  return t.length > n ? `…${t.slice(-n)}` : t;
}

// ---------------------------------------------------------------------------------------------
// Measuring one process: wall time and peak RSS.

interface RssWatch {
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
function watchRss(pid: number): RssWatch {
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

interface Finished {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
  /** KiB */
  peakRss: number;
}

/** Runs a command to its end; the clock runs from just before the spawn to its exit. */
async function timed(scope: Scope, cmd: string, args: string[], cwd = REPO): Promise<Finished> {
  const t0 = performance.now();
  const p = scope.spawn(cmd, args, cwd);
  const rss = scope.watch(p.pid);
  const status = await p.done;
  const seconds = (performance.now() - t0) / 1000;
  const peakRss = rss.stop();
  if (scope.timedOut) throw new Error(`timed out: ${cmd} ${args.slice(0, 3).join(" ")} …`);
  return { code: status.code, stdout: p.stdout, stderr: p.stderr, seconds, peakRss };
}

/** Runs a helper command (not measured) and returns its stdout; throws on failure or timeout. */
async function run(cmd: string, args: string[], cwd = REPO, timeoutMs = 600_000): Promise<string> {
  const p = spawnTracked(cmd, args, cwd);
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const status = await p.done.finally(() => clearTimeout(timer));
  if (!status.success) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${status.code}: ${tail(p.stderr)}`);
  }
  return p.stdout;
}

async function tryRun(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    return await run(cmd, args);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Verification.

class VerifyError extends Error {}

async function md5sum(path: string): Promise<string> {
  const out = await run("md5sum", [path]);
  return out.split(/\s/)[0]!;
}

/** The stored file has the test file's size and MD5. */
async function verifyFile(path: string, size: number, md5: string): Promise<void> {
  let actual: number;
  try {
    actual = (await Deno.stat(path)).size;
  } catch {
    throw new VerifyError(`verification: ${path} does not exist`);
  }
  if (actual !== size) throw new VerifyError(`verification: ${actual} bytes stored, not ${size}`);
  const got = await md5sum(path);
  if (got !== md5) throw new VerifyError(`verification: MD5 ${got}, expected ${md5}`);
}

function idOf(url: string): string {
  const id = new URL(url).pathname.split("/").pop() ?? "";
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`unexpected upload URL ${url}`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Servers.

interface Server {
  url: string;
  pid: number;
  /** Where the bytes of upload `id` are kept. */
  dataPath(id: string): string;
  /** Peak RSS so far, KiB. */
  peakRss(): number;
  /** CPU seconds (user + system, all threads) used so far. */
  cpu(): number;
}

/** CPU seconds (user + system) a live process has used, from /proc (0 once it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch {
    return 0;
  }
}

/** A deno.json task as argv, with `deno` replaced by this Deno (so its flags follow the task). */
function taskArgv(name: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${REPO}/deno.json`));
  const task: unknown = config.tasks?.[name];
  if (typeof task !== "string" || /[;&|<>$`]/.test(task)) {
    throw new Error(`deno.json task ${name} is not a plain command`);
  }
  const [first, ...rest] = task.trim().split(/\s+/);
  return [first === "deno" ? Deno.execPath() : first!, ...rest];
}

async function startServer(
  scope: Scope,
  what: string,
  argv: string[],
  cwd: string,
  dataPath: (id: string) => string,
  listening = LISTENING,
): Promise<Server> {
  const [cmd, ...args] = argv;
  const p = scope.spawn(cmd!, args, cwd);
  const url = await p.waitFor(listening, 60_000, what);
  const rss = scope.watch(p.pid);
  return { url, pid: p.pid, dataPath, peakRss: rss.read, cpu: () => cpuSeconds(p.pid) };
}

async function startTusd(scope: Scope, tusd: string): Promise<Server> {
  const dir = await scope.tempDir("tusd-data-");
  return await startServer(
    scope,
    "tusd",
    [tusd, "-port", "0", "-dir", dir],
    dir,
    (id) => `${dir}/${id}`,
    /^READY (http:\/\/\S+)$/m,
  );
}

/**
 * The tusd binary: `--tusd PATH`, else built by the peers' script in shared/ beside the checkout
 * (it prints the binary's path last); undefined, with why, when neither works.
 */
async function findTusd(given: string | undefined): Promise<string | { skipped: string }> {
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

async function startOurs(scope: Scope, extra: string[] = []): Promise<Server> {
  const dir = await scope.tempDir("ours-data-");
  return await startServer(
    scope,
    "main.ts server",
    [...taskArgv("server"), "--port", "0", "--dir", dir, ...extra],
    REPO,
    (id) => `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`,
  );
}

interface Peer {
  dir: string;
  versions: Record<string, string>;
}

async function startPeer(scope: Scope, peer: Peer): Promise<Server> {
  const dir = await scope.tempDir("peer-data-");
  return await startServer(
    scope,
    "@tus/server",
    ["node", `${peer.dir}/server.mjs`, dir],
    peer.dir,
    (id) => `${dir}/${id}`,
  );
}

/** Installs the pinned peer packages (deno.json imports) with npm into a temp dir. */
async function installPeer(): Promise<Peer | string> {
  const node = await tryRun("node", ["--version"]);
  const npm = await tryRun("npm", ["--version"]);
  if (node === undefined || npm === undefined) {
    return `peer rows skipped: ${node === undefined ? "node" : "npm"} is not installed`;
  }
  const imports: Record<string, string> =
    JSON.parse(Deno.readTextFileSync(`${REPO}/deno.json`)).imports ?? {};
  const names = ["@tus/server", "@tus/file-store", "tus-js-client"];
  const specs = names.map((n) => (imports[n] ?? `npm:${n}`).replace(/^npm:/, ""));
  const dir = await Deno.makeTempDir({ dir: workRoot, prefix: "peer-" });
  try {
    await run(
      "npm",
      [
        "install",
        "--prefix",
        dir,
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        ...specs,
      ],
      dir,
      300_000,
    );
  } catch (error) {
    return `peer rows skipped: npm install ${specs.join(" ")} failed: ${String(error)}`;
  }
  for (const f of ["server.mjs", "client.mjs"]) {
    await Deno.copyFile(`${BENCH}/peer/${f}`, `${dir}/${f}`);
  }
  const versions: Record<string, string> = { node: node.trim(), npm: npm.trim() };
  for (const n of names) {
    versions[n] =
      JSON.parse(await Deno.readTextFile(`${dir}/node_modules/${n}/package.json`)).version;
  }
  return { dir, versions };
}

// ---------------------------------------------------------------------------------------------
// Rows.

interface Env {
  file: string;
  size: number;
  md5: string;
  peer: Peer | undefined;
  /** The tusd binary, when it could be built. */
  tusd: string | undefined;
  smallCount: number;
  smallSize: number;
  concurrency: number;
}

interface Sample {
  /** MB/s (10^6 bytes per second), or uploads per second for the small-upload rows. */
  value: number;
  /** Peak RSS, KiB. */
  server?: number;
  client?: number;
  /** Server CPU seconds for the row (user + system, including its start). */
  serverCpu?: number;
}

type Section = "limit" | "ours" | "peer" | "small";

interface Row {
  key: string;
  label: string;
  section: Section;
  needsPeer?: boolean;
  needsTusd?: boolean;
  /** The peer row this one is compared with. */
  peer?: string;
  /** The limit row(s) this one is compared with (the smallest of them, rep by rep). */
  limit?: string[];
  limitLabel?: string;
  run(scope: Scope, env: Env): Promise<Sample>;
}

const mbps = (bytes: number, seconds: number) => bytes / seconds / 1e6;

function ddRow(key: string, label: string, args: string[]): Row {
  return {
    key,
    label,
    section: "limit",
    async run(scope, env) {
      const out = `${await scope.tempDir("dd-")}/out`;
      const r = await timed(scope, "dd", [`if=${env.file}`, `of=${out}`, ...args]);
      if (r.code !== 0) throw new Error(`dd exited ${r.code}: ${tail(r.stderr)}`);
      await verifyFile(out, env.size, env.md5);
      return { value: mbps(env.size, r.seconds), client: r.peakRss };
    },
  };
}

/** One streaming PATCH of the whole file with curl (chunked, as a stream: `-T`, not `-d @`). */
async function curlPatch(scope: Scope, env: Env, server: Server): Promise<Sample> {
  const created = await fetch(server.url, {
    method: "POST",
    headers: { "Tus-Resumable": "1.0.0", "Upload-Length": String(env.size) },
  });
  await created.body?.cancel();
  const location = created.headers.get("location");
  if (created.status !== 201 || location === null) {
    throw new Error(`POST answered ${created.status}`);
  }
  const url = new URL(location, server.url).href;
  const r = await timed(scope, "curl", [
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-X",
    "PATCH",
    "-H",
    "Tus-Resumable: 1.0.0",
    "-H",
    "Upload-Offset: 0",
    "-H",
    "Content-Type: application/offset+octet-stream",
    "-H",
    "Transfer-Encoding: chunked",
    "-H",
    "Expect:",
    "-T",
    env.file,
    url,
  ]);
  if (r.code !== 0 || r.stdout.trim() !== "204") {
    throw new Error(`curl exited ${r.code}, HTTP ${r.stdout.trim()}: ${tail(r.stderr)}`);
  }
  const server_ = server.peakRss();
  const serverCpu = server.cpu();
  await verifyFile(server.dataPath(idOf(url)), env.size, env.md5);
  return { value: mbps(env.size, r.seconds), server: server_, client: r.peakRss, serverCpu };
}

const CHUNKS = [
  { name: "1 MiB", flag: "1MiB", bytes: MiB, limit: "dd-dsync-1m", limitLabel: "dd 1M dsync" },
  { name: "8 MiB", flag: "8MiB", bytes: 8 * MiB, limit: "dd-dsync-8m", limitLabel: "dd 8M dsync" },
  { name: "one PATCH", flag: "0", bytes: 0, limit: "", limitLabel: "" },
] as const;
/** The target for one PATCH: the slower of per-write durable dd and md5sum. */
const ONE_PATCH_LIMIT = ["dd-dsync-8m", "md5sum"];
const ONE_PATCH_LIMIT_LABEL = "min(dd 8M dsync, md5sum)";

function ourClientRow(chunk: typeof CHUNKS[number], checksum: "default" | "none"): Row {
  const key = `ours-${chunk.flag}-${checksum}`;
  return {
    key,
    label: `our client → ours, ${chunk.name}` +
      (checksum === "none" ? ", --checksum none" : ", default checksum"),
    section: "ours",
    peer: `peer-${chunk.flag}`,
    limit: chunk.limit ? [chunk.limit] : ONE_PATCH_LIMIT,
    limitLabel: chunk.limitLabel || ONE_PATCH_LIMIT_LABEL,
    async run(scope, env) {
      const server = await startOurs(scope);
      const state = await scope.tempDir("client-state-");
      const r = await timed(
        scope,
        ...argv([
          ...taskArgv("client"),
          "upload",
          env.file,
          "--endpoint",
          server.url,
          "--state-dir",
          state,
          "--chunk-size",
          chunk.flag,
          "--json",
          "--no-progress",
          ...(checksum === "none" ? ["--checksum", "none"] : []),
        ]),
      );
      if (r.code !== 0) throw new Error(`client exited ${r.code}: ${tail(r.stderr)}`);
      const completed = r.stdout.split("\n").map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return undefined;
        }
      }).find((e) => e?.type === "completed");
      if (typeof completed?.url !== "string") {
        throw new Error(`client printed no "completed" event: ${tail(r.stdout)}`);
      }
      const serverRss = server.peakRss();
      const serverCpu = server.cpu();
      await verifyFile(server.dataPath(idOf(completed.url)), env.size, env.md5);
      return { value: mbps(env.size, r.seconds), server: serverRss, client: r.peakRss, serverCpu };
    },
  };
}

const TARGETS = {
  peer: { key: "peer", name: "@tus/server" },
  ours: { key: "tusjs-ours", name: "ours" },
  tusd: { key: "tusjs-tusd", name: "tusd" },
} as const;

/** tus-js-client (under Node) uploading the file to a server; the stored bytes are verified. */
async function tusJsUpload(
  scope: Scope,
  env: Env,
  server: Server,
  chunk: number,
): Promise<Sample & { seconds: number; path: string }> {
  const peer = env.peer!;
  const r = await timed(
    scope,
    "node",
    [`${peer.dir}/client.mjs`, env.file, server.url, String(chunk)],
    peer.dir,
  );
  if (r.code !== 0) throw new Error(`tus-js-client exited ${r.code}: ${tail(r.stderr)}`);
  const url = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}").url;
  if (typeof url !== "string") throw new Error(`no upload URL: ${tail(r.stdout)}`);
  const serverRss = server.peakRss();
  const serverCpu = server.cpu();
  const path = server.dataPath(idOf(url));
  await verifyFile(path, env.size, env.md5);
  return {
    value: mbps(env.size, r.seconds),
    server: serverRss,
    client: r.peakRss,
    serverCpu,
    seconds: r.seconds,
    path,
  };
}

function peerClientRow(chunk: typeof CHUNKS[number], to: keyof typeof TARGETS = "peer"): Row {
  return {
    key: `${TARGETS[to].key}-${chunk.flag}`,
    label: `tus-js-client → ${TARGETS[to].name}, ${chunk.name}`,
    section: to === "ours" ? "ours" : "peer",
    needsPeer: true,
    ...(to === "tusd" ? { needsTusd: true } : {}),
    ...(to === "ours" ? { peer: `peer-${chunk.flag}` } : {}),
    limit: chunk.limit ? [chunk.limit] : ONE_PATCH_LIMIT,
    limitLabel: chunk.limitLabel || ONE_PATCH_LIMIT_LABEL,
    async run(scope, env) {
      const server = to === "peer"
        ? await startPeer(scope, env.peer!)
        : to === "tusd"
        ? await startTusd(scope, env.tusd!)
        : await startOurs(scope);
      const { seconds: _, path: __, ...sample } = await tusJsUpload(
        scope,
        env,
        server,
        chunk.bytes,
      );
      return sample;
    },
  };
}

/**
 * Time to a durable, verified file with tusd: tus-js-client's upload, then what tusd leaves to do
 * (`sync`, `md5sum`, `openssl dgst -sha256` of the stored file), all on the clock.
 */
const TUSD_PIPELINE: Row = {
  key: "tusd-pipeline-8MiB",
  label: "tusd pipeline: tus-js-client 8 MiB + sync + md5sum + openssl sha256",
  section: "peer",
  needsPeer: true,
  needsTusd: true,
  async run(scope, env) {
    const server = await startTusd(scope, env.tusd!);
    const up = await tusJsUpload(scope, env, server, 8 * MiB);
    let seconds = up.seconds;
    for (
      const [cmd, ...args] of [["sync"], ["md5sum", up.path], [
        "openssl",
        "dgst",
        "-sha256",
        up.path,
      ]]
    ) {
      const r = await timed(scope, cmd!, args);
      if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}: ${tail(r.stderr)}`);
      if (cmd === "md5sum" && r.stdout.split(/\s/)[0] !== env.md5) {
        throw new VerifyError(`verification: md5sum said ${r.stdout.split(/\s/)[0]}`);
      }
      seconds += r.seconds;
    }
    return { ...up, value: mbps(env.size, seconds) };
  },
};

function argv(list: string[]): [string, string[]] {
  const [cmd, ...args] = list;
  return [cmd!, args];
}

function smallRow(which: "ours" | "peer"): Row {
  return {
    key: `small-${which}`,
    label: which === "ours" ? "ours (main.ts server --max-active 64)" : "@tus/server + file-store",
    section: "small",
    ...(which === "peer" ? { needsPeer: true } : { peer: "small-peer" }),
    async run(scope, env) {
      // 16 bodies in flight would exceed the default --max-active 10 (503s): lift it.
      const server = which === "ours"
        ? await startOurs(scope, ["--max-active", "64"])
        : await startPeer(scope, env.peer!);
      const r = await timed(scope, Deno.execPath(), [
        "run",
        "--allow-net=127.0.0.1",
        `${BENCH}/small_uploads.ts`,
        "--url",
        server.url,
        "--count",
        String(env.smallCount),
        "--size",
        String(env.smallSize),
        "--concurrency",
        String(env.concurrency),
      ]);
      if (r.code !== 0) throw new Error(`small_uploads.ts exited ${r.code}: ${tail(r.stderr)}`);
      const report: SmallUploadsReport = JSON.parse(r.stdout);
      if (report.errors.length > 0) {
        throw new Error(`${report.errors.length}+ uploads failed, e.g. ${report.errors[0]}`);
      }
      const serverRss = server.peakRss();
      for (let i = 0; i < env.smallCount; i++) {
        const path = server.dataPath(idOf(report.urls[i]!));
        let bytes: Uint8Array;
        try {
          bytes = await Deno.readFile(path);
        } catch {
          throw new VerifyError(`verification: upload ${i} has no data file ${path}`);
        }
        const want = createHash("md5").update(smallBody(i, env.smallSize)).digest("hex");
        const got = createHash("md5").update(bytes).digest("hex");
        if (got !== want) {
          throw new VerifyError(`verification: upload ${i}: MD5 ${got}, expected ${want}`);
        }
      }
      return { value: env.smallCount / report.seconds, server: serverRss, client: r.peakRss };
    },
  };
}

const ROWS: Row[] = [
  ddRow("dd-fsync-8m", "dd bs=8M conv=fsync", ["bs=8M", "conv=fsync"]),
  ddRow("dd-dsync-1m", "dd bs=1M oflag=dsync", ["bs=1M", "oflag=dsync"]),
  ddRow("dd-dsync-8m", "dd bs=8M oflag=dsync", ["bs=8M", "oflag=dsync"]),
  {
    key: "md5sum",
    label: "md5sum",
    section: "limit",
    async run(scope, env) {
      const r = await timed(scope, "md5sum", [env.file]);
      if (r.code !== 0) throw new Error(`md5sum exited ${r.code}: ${tail(r.stderr)}`);
      const got = r.stdout.split(/\s/)[0];
      if (got !== env.md5) throw new VerifyError(`verification: md5sum said ${got}`);
      return { value: mbps(env.size, r.seconds), client: r.peakRss };
    },
  },
  {
    key: "sink",
    label: "curl → Deno.serve sink (loopback)",
    section: "limit",
    async run(scope, env) {
      const sink = await startServer(
        scope,
        "sink",
        [Deno.execPath(), "run", "--allow-net=127.0.0.1", `${BENCH}/sink.ts`],
        REPO,
        () => "",
      );
      const r = await timed(scope, "curl", [
        "-sS",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/octet-stream",
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Expect:",
        "-T",
        env.file,
        sink.url,
      ]);
      if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${tail(r.stderr)}`);
      if (r.stdout.trim() !== String(env.size)) {
        throw new VerifyError(`verification: the sink read ${r.stdout.trim()} bytes`);
      }
      return { value: mbps(env.size, r.seconds), server: sink.peakRss(), client: r.peakRss };
    },
  },
  {
    key: "curl-ours",
    label: "curl → ours, one streaming PATCH",
    section: "ours",
    peer: "curl-peer",
    limit: ONE_PATCH_LIMIT,
    limitLabel: ONE_PATCH_LIMIT_LABEL,
    run: async (scope, env) => await curlPatch(scope, env, await startOurs(scope)),
  },
  {
    key: "curl-peer",
    label: "curl → @tus/server, one streaming PATCH",
    section: "peer",
    needsPeer: true,
    limit: ONE_PATCH_LIMIT,
    limitLabel: ONE_PATCH_LIMIT_LABEL,
    run: async (scope, env) => await curlPatch(scope, env, await startPeer(scope, env.peer!)),
  },
  {
    key: "curl-tusd",
    label: "curl → tusd, one streaming PATCH",
    section: "peer",
    needsTusd: true,
    limit: ONE_PATCH_LIMIT,
    limitLabel: ONE_PATCH_LIMIT_LABEL,
    run: async (scope, env) => await curlPatch(scope, env, await startTusd(scope, env.tusd!)),
  },
  ...CHUNKS.flatMap((chunk) => [
    ourClientRow(chunk, "default"),
    peerClientRow(chunk),
    ...(chunk.bytes > 0 ? [peerClientRow(chunk, "ours")] : []),
    ourClientRow(chunk, "none"),
  ]),
  peerClientRow(CHUNKS[1], "tusd"),
  TUSD_PIPELINE,
  smallRow("ours"),
  smallRow("peer"),
];

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

type Outcome = { ok: true; sample: Sample } | { ok: false; error: string };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmt = (n: number) => n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const mib = (kib: number | undefined) => kib === undefined ? "" : (kib / 1024).toFixed(0);

/** Rep-by-rep ratios of a row to a reference (the smallest of `refs`), and their median. */
function pairedRatio(
  results: Map<string, Outcome[]>,
  key: string,
  refs: string[],
): string {
  const r = pairedMedian(results, key, refs);
  return r === undefined ? "" : `${r.toFixed(2)}×`;
}

function pairedMedian(
  results: Map<string, Outcome[]>,
  key: string,
  refs: string[],
): number | undefined {
  const mine = results.get(key) ?? [];
  const ratios: number[] = [];
  for (let i = 0; i < mine.length; i++) {
    const m = mine[i];
    const others = refs.map((r) => results.get(r)?.[i]);
    if (!m?.ok || others.some((o) => !o?.ok)) continue;
    const ref = Math.min(...others.map((o) => (o as { sample: Sample }).sample.value));
    ratios.push(m.sample.value / ref);
  }
  return ratios.length === 0 ? undefined : median(ratios);
}

interface Report {
  tables: string;
  notes: string[];
}

function report(results: Map<string, Outcome[]>, rows: Row[], env: Env): Report {
  const notes: string[] = [];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  /** Cells: median, min, max, ÷ peer, ÷ limit, server RSS, client RSS. */
  const summary = (row: Row): string[] => {
    const outcomes = results.get(row.key) ?? [];
    const ok = outcomes.flatMap((o) => o.ok ? [o.sample] : []);
    const failed = outcomes.flatMap((o, i) => o.ok ? [] : [`rep ${i + 1}: ${o.error}`]);
    const serverPeak = Math.max(...ok.map((s) => s.server ?? 0));
    const clientPeak = Math.max(...ok.map((s) => s.client ?? 0));
    const rss = [serverPeak > 0 ? mib(serverPeak) : "", clientPeak > 0 ? mib(clientPeak) : ""];
    if (failed.length > 0) {
      notes.push(`**${row.label}** FAILED in ${failed.length}/${outcomes.length} reps:`);
      for (const f of failed) notes.push(`  - ${f}`);
      if (ok.length > 0) {
        notes.push(
          `  - (the reps that passed: ${ok.map((s) => fmt(s.value)).join(", ")}; not reported)`,
        );
      }
      return [`FAILED (${failed.length}/${outcomes.length})`, "", "", "", "", ...rss, ""];
    }
    const values = ok.map((s) => s.value);
    return [
      `**${fmt(median(values))}**`,
      fmt(Math.min(...values)),
      fmt(Math.max(...values)),
      row.peer ? pairedRatio(results, row.key, [row.peer]) : "",
      row.limit ? `${pairedRatio(results, row.key, row.limit)} ${row.limitLabel}` : "",
      ...rss,
      ok.some((s) => s.serverCpu) ? fmt(median(ok.map((s) => s.serverCpu ?? 0))) : "",
    ];
  };
  const big = rows.filter((r) => r.section !== "small");
  const small = rows.filter((r) => r.section === "small");
  const out: string[] = [];
  if (big.length > 0) {
    out.push(
      `${formatBytes(env.size)} file, MB/s = 10^6 bytes/s; RSS = peak (VmHWM), max over reps, MiB`,
      "",
      line([
        "row",
        "MB/s median",
        "min",
        "max",
        "÷ peer",
        "÷ limit (which)",
        "server RSS",
        "client RSS",
        "server CPU s",
      ]),
      line(Array(9).fill("---")),
      ...big.map((row) => line([row.label, ...summary(row)])),
    );
  }
  if (small.length > 0) {
    out.push(
      "",
      `${env.smallCount} uploads of ${formatBytes(env.smallSize)}, creation-with-upload, ` +
        `${env.concurrency} in flight`,
      "",
      line(["server", "uploads/s median", "min", "max", "÷ peer", "server RSS", "client RSS"]),
      line(Array(7).fill("---")),
      ...small.map((row) => {
        const [median, min, max, peer, _limit, server, client] = summary(row);
        return line([row.label, median!, min!, max!, peer!, server!, client!]);
      }),
    );
  }
  const peakOf = (key: string, side: "server" | "client") => {
    const ok = (results.get(key) ?? []).flatMap((o) => o.ok ? [o.sample[side] ?? 0] : []);
    return ok.length ? Math.max(...ok) / 1024 : undefined;
  };
  out.push(
    "",
    "Targets (paired medians of this run)",
    "",
    targetsTable((key, over) => pairedMedian(results, key, over), peakOf),
  );
  return { tables: out.join("\n"), notes };
}

/**
 * What code is measured: the commit plus a digest of the uncommitted changes to what runs. Rows
 * start main.ts afresh, so an edit during the run changes what later rows measure.
 */
async function codeState(): Promise<string> {
  const paths = ["main.ts", "server", "client", "lib"];
  const head = (await tryRun("git", ["rev-parse", "--short", "HEAD"]))?.trim() ?? "?";
  const diff = await tryRun("git", ["diff", "HEAD", "--", ...paths]) ?? "";
  const untracked = await tryRun("git", ["ls-files", "--others", "--exclude-standard", ...paths]);
  const digest = createHash("sha256").update(diff).update(untracked ?? "").digest("hex");
  return diff === "" && !untracked ? head : `${head}+dirty:${digest.slice(0, 12)}`;
}

async function machine(args: string[]): Promise<string> {
  const first = (s: string | undefined) => (s ?? "?").trim().split("\n")[0]!;
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const cpu = /^model name\s*:\s*(.+)$/m.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
  const df = (await tryRun("df", ["-hT", workRoot]))?.trim().split("\n") ?? [];
  const git = (await tryRun("git", ["rev-parse", "--short", "HEAD"]))?.trim();
  const dirty = (await tryRun("git", ["status", "--porcelain", "--", "server", "client", "lib"]))
    ?.trim().split("\n").filter((l) => l !== "").map((l) => l.slice(3));
  return [
    `- date: ${new Date().toISOString()}`,
    `- command: \`deno task bench:e2e${args.length ? " " + args.join(" ") : ""}\``,
    `- machine: ${first(await tryRun("nproc", []))} CPUs (${cpu ?? "?"}), ` +
    `${(memKiB / 1024 / 1024).toFixed(1)} GiB RAM, kernel ${first(await tryRun("uname", ["-r"]))}`,
    `- load average at start: ${
      (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ")
    } (the machine is not otherwise reserved)`,
    `- disk (work dir ${workRoot}): \`${df.at(-1)?.replace(/\s+/g, " ") ?? "?"}\``,
    `- deno ${Deno.version.deno}, ${
      first(await tryRun("curl", ["--version"])).split(" ").slice(0, 2).join(" ")
    }, ` +
    `${first(await tryRun("dd", ["--version"]))}`,
    `- code: ${git ?? "?"}${
      dirty && dirty.length ? ` + uncommitted changes in ${dirty.join(", ")}` : ""
    }`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main.

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: "string" },
      reps: { type: "string" },
      quick: { type: "boolean", default: false },
      small: { type: "string" },
      "small-size": { type: "string", default: "4KiB" },
      concurrency: { type: "string", default: "16" },
      only: { type: "string" },
      tusd: { type: "string" },
      "work-dir": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const size = parseSize(values.size ?? (values.quick ? "64MiB" : "1GiB"));
  const reps = Number(values.reps ?? (values.quick ? "1" : "5"));
  const smallCount = Number(values.small ?? (values.quick ? "500" : "2000"));
  const smallSize = parseSize(values["small-size"]);
  const concurrency = Number(values.concurrency);
  if (!(size > 0 && reps >= 1 && smallCount >= 1 && smallSize >= 1 && concurrency >= 1)) {
    console.error(`bad arguments\n\n${USAGE}`);
    return 2;
  }
  const only = values.only === undefined ? undefined : new RegExp(values.only);
  const started = performance.now();

  workRoot = await Deno.makeTempDir({
    prefix: "resumable-bench-e2e-",
    ...(values["work-dir"] ? { dir: values["work-dir"] } : {}),
  });
  const header = await machine(args);
  const codeAtStart = await codeState();
  const log = (text: string) => console.error(text);

  // The peer, installed fresh (npm's cache makes this quick after the first time).
  const wanted = (r: Row) => !only || only.test(r.key) || only.test(r.label);
  const wantsPeer = ROWS.some((r) => r.needsPeer && wanted(r));
  let peer: Peer | undefined;
  if (wantsPeer) {
    log("installing the peer with npm …");
    const installed = await installPeer();
    if (typeof installed === "string") log(`NOTICE: ${installed}`);
    else peer = installed;
  }
  let tusd: string | undefined;
  if (ROWS.some((r) => r.needsTusd && wanted(r))) {
    log("building tusd …");
    const found = await findTusd(values.tusd);
    if (typeof found === "string") tusd = found;
    else log(`NOTICE: ${found.skipped}`);
  }
  const rows = ROWS.filter((r) => wanted(r) && (!r.needsPeer || peer) && (!r.needsTusd || tusd));

  // The test file, once.
  const file = `${workRoot}/test.bin`;
  log(`generating ${formatBytes(size)} test file …`);
  await run(taskArgv("client")[0]!, [
    ...taskArgv("client").slice(1),
    "generate",
    file,
    "--size",
    String(size),
    "--seed",
    "1",
  ]);
  if ((await Deno.stat(file)).size !== size) throw new Error("client generate: wrong size");
  const md5 = await md5sum(file); // also brings the file into the page cache
  const env: Env = { file, size, md5, peer, tusd, smallCount, smallSize, concurrency };

  const results = new Map<string, Outcome[]>(rows.map((r) => [r.key, []]));
  const rowTimeoutMs = 120_000 + (size / (2 * 1e6)) * 1000; // at worst 2 MB/s, + 2 min
  await run("sync", []);
  for (let rep = 1; rep <= reps; rep++) {
    for (const row of rows) {
      let outcome: Outcome;
      try {
        await using scope = new Scope();
        scope.deadline(rowTimeoutMs);
        outcome = { ok: true, sample: await row.run(scope, env) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outcome = { ok: false, error: message.replace(/\s+/g, " ").slice(0, 400) };
      }
      results.get(row.key)!.push(outcome);
      const unit = row.section === "small" ? "uploads/s" : "MB/s";
      log(
        `${new Date().toISOString().slice(11, 19)} [rep ${rep}/${reps}] ${row.label}: ` +
          (outcome.ok
            ? `${fmt(outcome.sample.value)} ${unit} (RSS server ${
              mib(outcome.sample.server) || "-"
            } MiB, client ${mib(outcome.sample.client) || "-"} MiB)`
            : `FAILED: ${outcome.error}`),
      );
      // Settle: what a row left dirty must not be written back during the next one.
      await run("sync", []).catch(() => {});
    }
  }

  const { tables, notes } = report(results, rows, env);
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  const codeAtEnd = await codeState();
  const peerLine = peer
    ? `- peer: ${Object.entries(peer.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`
    : "- peer: not measured";
  const text = [
    header,
    peerLine,
    `- ${reps} rep(s), interleaved; run time ${minutes} min`,
    ...(codeAtEnd === codeAtStart ? [] : [
      `- WARNING: the code changed during the run (${codeAtStart} → ${codeAtEnd}): later ` +
      `rows measured different code than earlier ones`,
    ]),
    "",
    tables,
    ...(notes.length ? ["", "Failures:", "", ...notes] : []),
    "",
  ].join("\n");
  console.log(text);
  if (values.out) await Deno.writeTextFile(values.out, text);
  return notes.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  const onSignal = () => {
    cleanupSync();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  globalThis.addEventListener("unload", cleanupSync);
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    cleanupSync();
  }
  Deno.exit(code);
}
