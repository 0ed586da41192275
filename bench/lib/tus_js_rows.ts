/**
 * The rows with tus-js-client (under Node) as the client: to @tus/server, to ours, to tusd, and
 * the tusd pipeline (time to a durable, verified file).
 */
import { startPeer } from "./peers.ts";
import { mbps } from "./stats.ts";
import { MiB, type Scope, tail, timed } from "./process.ts";
import { chunkLimit, CHUNKS, type Env, type Row, type Sample } from "./row.ts";
import { type Server, startOurs, startTusd } from "./servers.ts";
import { idOf, VerifyError, verifyFile } from "./verify.ts";

/** The servers tus-js-client uploads to: the row key prefix and the name in the label. */
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
    clientCpu: r.cpu,
    serverCpu,
    seconds: r.seconds,
    path,
  };
}

export function peerClientRow(
  chunk: typeof CHUNKS[number],
  to: keyof typeof TARGETS = "peer",
): Row {
  return {
    key: `${TARGETS[to].key}-${chunk.flag}`,
    label: `tus-js-client → ${TARGETS[to].name}, ${chunk.name}`,
    section: to === "ours" ? "ours" : "peer",
    needsPeer: true,
    ...(to === "tusd" ? { needsTusd: true } : {}),
    ...(to === "ours" ? { peer: `peer-${chunk.flag}` } : {}),
    ...chunkLimit(chunk),
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
 * (`sync`, `md5sum`, `openssl dgst -sha256` of the stored file), all on the clock; the client's
 * CPU is theirs together.
 */
export const TUSD_PIPELINE: Row = {
  key: "tusd-pipeline-8MiB",
  label: "tusd pipeline: tus-js-client 8 MiB + sync + md5sum + openssl sha256",
  section: "peer",
  needsPeer: true,
  needsTusd: true,
  async run(scope, env) {
    const server = await startTusd(scope, env.tusd!);
    const up = await tusJsUpload(scope, env, server, 8 * MiB);
    let seconds = up.seconds;
    let clientCpu = up.clientCpu ?? 0;
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
      clientCpu += r.cpu;
    }
    return { ...up, value: mbps(env.size, seconds), clientCpu };
  },
};
