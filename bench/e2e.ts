/**
 * End-to-end throughput and memory, ours against the hardware limits and against @tus/server, all
 * measured in ONE run so that every claim can be a ratio (absolute speeds drift 30% between runs on
 * this kind of machine). Run: `deno task bench:e2e [--size 1GiB] [--reps 5] [--quick] [--out FILE]`.
 *
 * It creates the test file once (`client generate`), then repeats every row N times, interleaved
 * (rep 1: A B C …, then every row again in another order, so that no row always follows the same
 * one: `lib/rep_order.ts`), each row with fresh processes and directories:
 *
 * - limits: `dd` with one fsync, `dd oflag=dsync` at 1 MiB and 8 MiB, `md5sum`, and curl into a
 *   `Deno.serve` sink on loopback;
 * - ours: curl sending one streaming PATCH to `main.ts server`, and our client (`main.ts client
 *   upload`) at 1 MiB, 8 MiB and one-PATCH chunk sizes, with default options and with a per-chunk
 *   checksum (`--checksum auto`);
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
import { parseArgs } from "node:util";
import { formatBytes, parseSize } from "../lib/units.ts";
import { killAll } from "../tests/helpers/children.ts";
import { taskArgv } from "../tests/helpers/deno_task.ts";
import { installPeer, type Peer } from "./lib/peers.ts";
import { repOrder } from "./lib/rep_order.ts";
import { run, Scope } from "./lib/process.ts";
import { fmt, mib, type Outcome, report } from "./lib/report.ts";
import type { Env, Row } from "./lib/row.ts";
import { ROWS } from "./lib/rows.ts";
import { codeState, machine } from "./lib/run_info.ts";
import { findTusd } from "./lib/servers.ts";
import { md5sum } from "./lib/verify.ts";

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

/** Where this run's files go; removed with everything in it on any exit. */
let workRoot = "";

function cleanupSync(): void {
  killAll();
  if (workRoot !== "") {
    try {
      Deno.removeSync(workRoot, { recursive: true });
    } catch { /* already gone */ }
  }
}

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
  const header = await machine(args, workRoot);
  const codeAtStart = await codeState();
  const log = (text: string) => console.error(text);

  // The peer, installed fresh (npm's cache makes this quick after the first time).
  const wanted = (r: Row) => !only || only.test(r.key) || only.test(r.label);
  const wantsPeer = ROWS.some((r) => r.needsPeer && wanted(r));
  let peer: Peer | undefined;
  if (wantsPeer) {
    log("installing the peer with npm …");
    const installed = await installPeer(workRoot);
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
    for (const row of repOrder(rows, rep)) {
      let outcome: Outcome;
      try {
        await using scope = new Scope(workRoot);
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
