/**
 * Memory flatness: peak RSS (VmHWM) of our server for one 1 GiB and one 4 GiB upload
 * (curl, one streaming PATCH), of our client uploading the same two sizes, and of the server under
 * 10 concurrent 256 MiB uploads. Bodies are sparse files (zeros, read without disk I/O): memory
 * doesn't depend on the bytes, and the disk stays free for the writes being measured. Every row
 * checks the stored size and the server's SHA-256 against one computed here.
 *
 *     deno run --allow-all bench/memory.ts [--big 4GiB] [--small 1GiB] [--each 256MiB] [--n 10]
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { parseSize } from "../lib/units.ts";
import { taskArgv } from "../tests/helpers/deno_task.ts";
import { startServer } from "../tests/helpers/server.ts";
import { REPO, watchRss } from "./lib/process.ts";

const MiB = 1024 * 1024;
/** Peak RSS ceilings, MiB: the server with one upload, with ten at once; the client, any size. */
const ONE_UPLOAD_MAX = 64;
const CONCURRENT_MAX = 128;
const CLIENT_MAX = 64;

/** Peak RSS in MiB of a process, polled until stopped. */
export function watch(pid: number) {
  const rss = watchRss(pid);
  return { read: () => rss.read() / 1024, stop: () => rss.stop() / 1024 };
}

/** Ours as `deno task server` runs it (its flags, permissions and V8 options), on a dir in `work`. */
async function startOurs(work: string) {
  const server = await startServer({
    asTask: true,
    tempDir: work,
    args: ["--min-free", "0", "--max-active", "32", "--log-level", "warn"],
  });
  const rss = watch(server.process.pid);
  /** Peak RSS once listening, before any upload: the floor every row starts from. */
  const idle = rss.read();
  return {
    url: server.url,
    rss,
    idle,
    async [Symbol.asyncDispose]() {
      rss.stop();
      await server[Symbol.asyncDispose]();
    },
  };
}

/** A sparse file of `size` zeros (read without disk I/O). */
export async function sparse(path: string, size: number): Promise<void> {
  using f = await Deno.open(path, { create: true, write: true, truncate: true });
  await f.truncate(size);
}

const zeroSha = new Map<number, string>();
function sha256OfZeros(size: number): string {
  const known = zeroSha.get(size);
  if (known) return known;
  const h = createHash("sha256");
  const block = new Uint8Array(8 * MiB);
  for (let left = size; left > 0; left -= block.length) {
    h.update(left >= block.length ? block : block.subarray(0, left));
  }
  const hex = h.digest("base64");
  zeroSha.set(size, hex);
  return hex;
}

/** Creates an upload of `size` bytes; returns its URL. */
export async function create(url: string, size: number): Promise<string> {
  const res = await fetch(url, { method: "POST", headers: { "Upload-Length": String(size) } });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`POST ${res.status}`);
  return new URL(res.headers.get("location")!, url).href;
}

/** Sends all of `file` as one streaming PATCH at offset 0. */
export async function curlPatch(uploadUrl: string, file: string): Promise<void> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "-f",
      "-X",
      "PATCH",
      "-H",
      "Upload-Offset: 0",
      "-H",
      "Expect:",
      "-T",
      file,
      uploadUrl,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`curl: ${new TextDecoder().decode(out.stderr)}`);
}

/** Checks the stored size and the server's SHA-256 of `size` zeros. */
export async function verify(uploadUrl: string, size: number): Promise<void> {
  const res = await fetch(uploadUrl, { method: "HEAD" });
  const offset = Number(res.headers.get("upload-offset"));
  const digest = /sha-256=:([^:]+):/.exec(res.headers.get("repr-digest") ?? "")?.[1];
  if (offset !== size) throw new Error(`stored ${offset} bytes, not ${size}`);
  if (digest !== sha256OfZeros(size)) throw new Error(`SHA-256 ${digest} is not the expected one`);
}

/** Idle peak RSS of the servers started, MiB (the most seen). */
let serverIdle = 0;

async function serverRow(work: string, sizes: number[], parallel: number): Promise<number> {
  await using server = await startOurs(work);
  serverIdle = Math.max(serverIdle, server.idle);
  const jobs = sizes.map(async (size, i) => {
    const file = `${work}/sparse-${size}-${i}`;
    await sparse(file, size);
    const url = await create(server.url, size);
    await curlPatch(url, file);
    await verify(url, size);
    await Deno.remove(file);
  });
  for (let i = 0; i < sizes.length; i += parallel) await Promise.all(jobs.slice(i, i + parallel));
  return server.rss.read();
}

async function clientRow(work: string, size: number): Promise<number> {
  await using server = await startOurs(work);
  const file = `${work}/client-${size}`;
  await sparse(file, size);
  try {
    const [cmd, ...taskArgs] = taskArgv("client");
    const child = new Deno.Command(cmd!, {
      cwd: REPO,
      args: [
        ...taskArgs,
        "upload",
        file,
        "--endpoint",
        server.url,
        "--state-dir",
        `${work}/state-${size}`,
        "--no-progress",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const rss = watch(child.pid);
    const status = await child.output();
    const peak = rss.stop();
    if (!status.success) throw new Error(`client: ${new TextDecoder().decode(status.stderr)}`);
    return peak;
  } finally {
    await Deno.remove(file);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      big: { type: "string", default: "4GiB" },
      small: { type: "string", default: "1GiB" },
      each: { type: "string", default: "256MiB" },
      n: { type: "string", default: "10" },
    },
  });
  const small = parseSize(values.small), big = parseSize(values.big), each = parseSize(values.each);
  const n = Number(values.n);
  const work = await Deno.makeTempDir({ prefix: "resumable-bench-memory-" });
  const fmt = (b: number) => b >= 1024 * MiB ? `${b / MiB / 1024} GiB` : `${b / MiB} MiB`;
  try {
    /** What, peak MiB, and its ceiling (one upload, ten at once, the client). */
    const rows: [string, number, number][] = [];
    const t0 = performance.now();
    const s1 = await serverRow(work, [small], 1);
    rows.push([`server, one ${fmt(small)} upload (curl)`, s1, ONE_UPLOAD_MAX]);
    const s4 = await serverRow(work, [big], 1);
    rows.push([`server, one ${fmt(big)} upload (curl)`, s4, ONE_UPLOAD_MAX]);
    const c = await serverRow(work, Array(n).fill(each), n);
    rows.push([`server, ${n} concurrent ${each / MiB} MiB uploads (curl)`, c, CONCURRENT_MAX]);
    const k1 = await clientRow(work, small);
    rows.push([`client, ${fmt(small)} upload`, k1, CLIENT_MAX]);
    const k4 = await clientRow(work, big);
    rows.push([`client, ${fmt(big)} upload`, k4, CLIENT_MAX]);
    console.log(`\n| what | peak RSS (MiB) | target | verdict |\n| --- | --- | --- | --- |`);
    for (const [what, mib, max] of rows) {
      console.log(`| ${what} | ${mib.toFixed(0)} | ≤ ${max} | ${mib <= max ? "met" : "not met"} |`);
    }
    console.log(
      `\nserver ${fmt(big)} ÷ ${fmt(small)}: ${(s4 / s1).toFixed(2)}×; client: ${
        (k4 / k1).toFixed(2)
      }×; ` +
        `run time ${
          ((performance.now() - t0) / 60_000).toFixed(1)
        } min; every row's size and SHA-256 verified`,
    );
    console.log(
      `server idle (listening, before any upload): ${
        serverIdle.toFixed(0)
      } MiB of the ${ONE_UPLOAD_MAX} MiB a single upload may peak at`,
    );
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
