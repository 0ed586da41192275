/**
 * Every row of bench/e2e.ts, in the order a repetition runs them: the limits (dd, md5sum, a
 * loopback sink), curl's one streaming PATCH, the clients at each chunk size, the small uploads.
 */
import { curlPatchArgs, curlStreamArgs } from "./curl.ts";
import { startPeer } from "./peers.ts";
import { mbps } from "./stats.ts";
import { BENCH, REPO, type Scope, tail, timed } from "./process.ts";
import { chunkLimit, CHUNKS, type Env, ONE_PATCH_LIMIT, type Row, type Sample } from "./row.ts";
import { type Server, startOurs, startServer, startTusd } from "./servers.ts";
import { smallRow } from "./small_rows.ts";
import { peerClientRow, TUSD_PIPELINE } from "./tus_js_rows.ts";
import { idOf, VerifyError, verifyFile } from "./verify.ts";
import { taskArgv } from "../../tests/helpers/deno_task.ts";

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
      return { value: mbps(env.size, r.seconds), client: r.peakRss, clientCpu: r.cpu };
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
    ...curlPatchArgs(url, 0, env.file),
  ]);
  if (r.code !== 0 || r.stdout.trim() !== "204") {
    throw new Error(`curl exited ${r.code}, HTTP ${r.stdout.trim()}: ${tail(r.stderr)}`);
  }
  const server_ = server.peakRss();
  const serverCpu = server.cpu();
  await verifyFile(server.dataPath(idOf(url)), env.size, env.md5);
  return {
    value: mbps(env.size, r.seconds),
    server: server_,
    client: r.peakRss,
    serverCpu,
    clientCpu: r.cpu,
  };
}

function ourClientRow(chunk: typeof CHUNKS[number], checksum: "default" | "auto"): Row {
  const key = `ours-${chunk.flag}-${checksum}`;
  return {
    key,
    label: `our client → ours, ${chunk.name}` +
      (checksum === "auto" ? ", --checksum auto (per-chunk SHA-1)" : ", default options"),
    section: "ours",
    peer: `peer-${chunk.flag}`,
    ...chunkLimit(chunk),
    async run(scope, env) {
      const server = await startOurs(scope);
      const state = await scope.tempDir("client-state-");
      const [client, ...clientArgs] = taskArgv("client");
      const r = await timed(
        scope,
        client!,
        [
          ...clientArgs,
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
          ...(checksum === "auto" ? ["--checksum", "auto"] : []),
        ],
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
      return {
        value: mbps(env.size, r.seconds),
        server: serverRss,
        client: r.peakRss,
        serverCpu,
        clientCpu: r.cpu,
      };
    },
  };
}

export const ROWS: Row[] = [
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
      return { value: mbps(env.size, r.seconds), client: r.peakRss, clientCpu: r.cpu };
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
        ...curlStreamArgs("POST", ["Content-Type: application/octet-stream"], env.file, sink.url),
      ]);
      if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${tail(r.stderr)}`);
      if (r.stdout.trim() !== String(env.size)) {
        throw new VerifyError(`verification: the sink read ${r.stdout.trim()} bytes`);
      }
      return {
        value: mbps(env.size, r.seconds),
        server: sink.peakRss(),
        client: r.peakRss,
        clientCpu: r.cpu,
      };
    },
  },
  {
    key: "curl-ours",
    label: "curl → ours, one streaming PATCH",
    section: "ours",
    peer: "curl-peer",
    ...ONE_PATCH_LIMIT,
    run: async (scope, env) => await curlPatch(scope, env, await startOurs(scope)),
  },
  {
    key: "curl-peer",
    label: "curl → @tus/server, one streaming PATCH",
    section: "peer",
    needsPeer: true,
    ...ONE_PATCH_LIMIT,
    run: async (scope, env) => await curlPatch(scope, env, await startPeer(scope, env.peer!)),
  },
  {
    key: "curl-tusd",
    label: "curl → tusd, one streaming PATCH",
    section: "peer",
    needsTusd: true,
    ...ONE_PATCH_LIMIT,
    run: async (scope, env) => await curlPatch(scope, env, await startTusd(scope, env.tusd!)),
  },
  ...CHUNKS.flatMap((chunk) => [
    ourClientRow(chunk, "default"),
    peerClientRow(chunk),
    ...(chunk.bytes > 0 ? [peerClientRow(chunk, "ours")] : []),
    ourClientRow(chunk, "auto"),
  ]),
  peerClientRow(CHUNKS[1], "tusd"),
  TUSD_PIPELINE,
  smallRow("ours"),
  smallRow("peer"),
];
