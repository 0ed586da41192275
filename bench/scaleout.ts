/**
 * Throughput of the S3 + PostgreSQL store against the filesystem store, in one interleaved run,
 * against the real services the scale-out tests use (RESUMABLE_TEST_S3, RESUMABLE_TEST_PG; see
 * tests/helpers/services.ts and .ci/services/). Run:
 *
 *   deno run -A bench/scaleout.ts [--size 256MiB] [--reps 3] [--out FILE]
 *
 * Rows (each rep: every row once, in order; fresh server processes, directories, bucket prefix):
 * - s3 raw: our S3 client alone — a multipart upload of the file in 8 MiB parts (one part in
 *   flight, like the store), and a GET of the result: what the S3 server can take;
 * - file / s3: curl sends the file as one streaming PATCH to `main.ts server` (the `server` task's
 *   permissions), then curl GETs it back; the stored bytes' MD5 (Repr-Digest) is checked;
 * - s3, 5 MiB PATCHes: curl PATCHes of 5 MiB against 8 MiB parts, so every PATCH leaves a tail
 *   that the next one continues (the local tail copy saves fetching it back; the re-upload of the
 *   tail object is the cost measured).
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { base64ToHex, parseReprDigest } from "../lib/digest_header.ts";
import { formatBytes, parseSize } from "../lib/units.ts";
import { S3Client } from "../server/store/s3/s3_client.ts";
import {
  emptyPrefix,
  s3StoreFlags,
  testBucket,
  type TestSchema,
  testSchema,
  testServices,
} from "../tests/helpers/services.ts";
import { startServer, type TestServer } from "../tests/helpers/server.ts";
import { curlPatchArgs } from "./lib/curl.ts";
import { MiB, REPO } from "./lib/process.ts";
import { mbps, median } from "./lib/stats.ts";

interface Env {
  file: string;
  size: number;
  md5: string;
  work: string;
}

/** Ours as `deno task server` runs it, quiet but for warnings, on a --dir in `work`. */
async function startOurs(
  work: string,
  args: string[],
  env: Record<string, string>,
): Promise<TestServer> {
  return await startServer({
    asTask: true,
    tempDir: work,
    args: ["--log-level", "warn", ...args],
    env,
  });
}

async function curl(args: string[]): Promise<{ seconds: number; out: string }> {
  const started = performance.now();
  const out = await new Deno.Command("curl", { args: ["-sS", ...args], stdout: "piped" }).output();
  const seconds = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`curl ${args.join(" ")} failed: ${text}`);
  return { seconds, out: text };
}

async function create(base: string, size: number): Promise<string> {
  const res = await fetch(base, { method: "POST", headers: { "Upload-Length": String(size) } });
  const { url } = await res.json() as { url: string };
  return url;
}

/** curl's arguments for one PATCH of `file` at `offset`, printing the status code. */
function patchArgs(url: string, offset: number, file: string): string[] {
  return ["-o", "/dev/null", "-w", "%{http_code}", ...curlPatchArgs(url, offset, file)];
}

async function verify(url: string, env: Env): Promise<void> {
  const res = await fetch(url, { method: "HEAD" });
  const md5 = parseReprDigest(res.headers.get("repr-digest") ?? "")?.md5;
  if (!md5 || base64ToHex(md5) !== env.md5) throw new Error(`stored MD5 differs at ${url}`);
}

/** One PATCH of the whole file, then a GET of it; returns [upload s, download s]. */
async function onePatch(server: TestServer, env: Env): Promise<[number, number]> {
  const url = await create(server.url, env.size);
  const up = await curl(patchArgs(url, 0, env.file));
  if (up.out.trim() !== "204") throw new Error(`PATCH answered ${up.out}`);
  await verify(url, env);
  const down = await curl(["-o", "/dev/null", "-w", "%{size_download}", url]);
  if (Number(down.out) !== env.size) throw new Error(`GET gave ${down.out} bytes`);
  return [up.seconds, down.seconds];
}

/** PATCHes of `chunk` bytes each (cut from the file with dd-like reads into temp files). */
async function chunkedPatches(server: TestServer, env: Env, chunk: number): Promise<number> {
  const url = await create(server.url, env.size);
  const piece = `${env.work}/piece`;
  const file = await Deno.open(env.file, { read: true });
  let seconds = 0;
  try {
    const buffer = new Uint8Array(chunk);
    for (let offset = 0; offset < env.size;) {
      let n = 0;
      while (n < chunk) {
        const got = await file.read(buffer.subarray(n));
        if (got === null) break;
        n += got;
      }
      await Deno.writeFile(piece, buffer.subarray(0, n));
      const r = await curl(patchArgs(url, offset, piece));
      if (r.out.trim() !== "204") throw new Error(`PATCH at ${offset} answered ${r.out}`);
      seconds += r.seconds;
      offset += n;
    }
  } finally {
    file.close();
  }
  await verify(url, env);
  return seconds;
}

/** Our S3 client alone: multipart upload in 8 MiB parts, then one GET. */
async function rawS3(s3: S3Client, env: Env, key: string): Promise<[number, number]> {
  const started = performance.now();
  const id = await s3.createMultipartUpload(key);
  const parts: { part: number; etag: string }[] = [];
  for (let start = 0, part = 1; start < env.size; start += 8 * MiB, part++) {
    const length = Math.min(8 * MiB, env.size - start);
    parts.push({
      part,
      etag: await s3.uploadPart(key, id, part, { path: env.file, start, length }),
    });
  }
  await s3.completeMultipartUpload(key, id, parts);
  const up = (performance.now() - started) / 1000;
  const t = performance.now();
  const hash = createHash("md5");
  for await (const chunk of await s3.getObject(key)) hash.update(chunk);
  if (hash.digest("hex") !== env.md5) throw new Error("raw S3 round trip differs");
  return [up, (performance.now() - t) / 1000];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "256MiB" },
      reps: { type: "string", default: "3" },
      out: { type: "string" },
    },
  });
  const services = testServices();
  if (!services) return 2;
  const size = parseSize(values.size);
  const reps = Number(values.reps);
  const work = await Deno.makeTempDir({ prefix: "resumable-bench-scaleout-" });
  const file = `${work}/data.bin`;
  await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO}/main.ts`, "client", "generate", file, "--size", String(size)],
    stdout: "null",
  }).output();
  const md5 = createHash("md5").update(await Deno.readFile(file)).digest("hex");
  const env: Env = { file, size, md5, work };
  const bucket = `resumable-bench-${crypto.randomUUID().slice(0, 8)}`;
  const s3 = await testBucket({ ...services, s3: { ...services.s3, bucket } });
  const samples = new Map<string, number[]>();
  const add = (row: string, seconds: number) =>
    samples.set(row, [...(samples.get(row) ?? []), mbps(size, seconds)]);
  const schemas: TestSchema[] = [];
  try {
    for (let rep = 1; rep <= reps; rep++) {
      const [rawUp, rawDown] = await rawS3(s3, env, `bench-raw-${rep}`);
      add("S3 alone: multipart upload, 8 MiB parts (our client)", rawUp);
      add("S3 alone: GET", rawDown);
      await s3.deleteObject(`bench-raw-${rep}`);

      {
        await using fileServer = await startOurs(work, [], {});
        const [up, down] = await onePatch(fileServer, env);
        add("file store: one PATCH (curl)", up);
        add("file store: GET (curl)", down);
      }

      const schema = await testSchema(services);
      schemas.push(schema);
      const store = s3StoreFlags(services, bucket, schema.url);
      {
        await using s3Server = await startOurs(work, store.args, store.env);
        const [up, down] = await onePatch(s3Server, env);
        add("S3 store: one PATCH (curl), 8 MiB parts", up);
        add("S3 store: GET (curl)", down);
        add(
          "S3 store: 5 MiB PATCHes (curl), 8 MiB parts",
          await chunkedPatches(s3Server, env, 5 * MiB),
        );
        add(
          "S3 store: 8 MiB PATCHes (curl), 8 MiB parts",
          await chunkedPatches(s3Server, env, 8 * MiB),
        );
      }
      console.error(`rep ${rep}/${reps} done`);
    }
  } finally {
    for (const schema of schemas) await schema.drop().catch(() => {});
    await emptyPrefix(s3, "").catch(() => {});
    await s3.deleteBucket().catch(() => {});
    s3.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const lines = [
    `size ${formatBytes(size)}, ${reps} reps interleaved, MB/s (median, then every rep)`,
    "",
    "| row | median MB/s | reps |",
    "| --- | ---: | --- |",
    ...[...samples].map(([row, xs]) =>
      `| ${row} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(", ")} |`
    ),
  ];
  const text = lines.join("\n");
  console.log(text);
  if (values.out) await Deno.writeTextFile(values.out, text + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
