/**
 * Memory flatness of the S3 store: peak RSS (VmHWM) of our server with `--store s3` for one small
 * and one big upload (curl, one streaming PATCH each, a fresh server per upload), against the
 * real services the scale-out tests use (RESUMABLE_TEST_S3, RESUMABLE_TEST_PG; skipped with a
 * notice without them). Target: the big upload's peak within 10% of the small one's. Every row
 * checks the stored size and the server's SHA-256, as in bench/memory.ts.
 *
 *     deno run --allow-all bench/memory_s3.ts [--small 128MiB] [--big 2GiB] [--reps 1]
 */
import { parseArgs } from "node:util";
import { formatBytes, parseSize } from "../lib/units.ts";
import { startServer } from "../tests/helpers/server.ts";
import {
  emptyPrefix,
  s3StoreFlags,
  type Services,
  testBucket,
  testSchema,
  testServices,
} from "../tests/helpers/services.ts";
import { cpuSeconds } from "./lib/process.ts";
import { create, curlPatch, sparse, verify, watch } from "./memory.ts";

/** How much more the big upload's peak may be than the small one's. */
const FLAT_WITHIN = 0.1;

interface Run {
  /** Peak RSS, MiB. */
  mib: number;
  /** The server's CPU seconds (user + system) from its start to the upload's end. */
  cpu: number;
}

/** Peak RSS (MiB) and CPU seconds of a fresh S3-store server taking one `size`-byte upload. */
async function s3Row(
  services: Services,
  bucket: string,
  work: string,
  size: number,
): Promise<Run> {
  const schema = await testSchema(services);
  const store = s3StoreFlags(services, bucket, schema.url);
  try {
    await using server = await startServer({
      asTask: true,
      tempDir: work,
      args: ["--log-level", "warn", ...store.args],
      env: store.env,
    });
    const rss = watch(server.process.pid);
    try {
      const file = `${work}/sparse-${size}`;
      await sparse(file, size);
      const url = await create(server.url, size);
      await curlPatch(url, file);
      await verify(url, size);
      await Deno.remove(file);
      return { mib: rss.read(), cpu: cpuSeconds(server.process.pid) };
    } finally {
      rss.stop();
    }
  } finally {
    await schema.drop().catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      small: { type: "string", default: "128MiB" },
      big: { type: "string", default: "2GiB" },
      reps: { type: "string", default: "1" },
    },
  });
  const services = testServices();
  if (!services) Deno.exit(0);
  const small = parseSize(values.small), big = parseSize(values.big);
  const reps = Number(values.reps);
  const work = await Deno.makeTempDir({ prefix: "resumable-bench-memory-s3-" });
  const bucket = `resumable-bench-${crypto.randomUUID().slice(0, 8)}`;
  const s3 = await testBucket({ ...services, s3: { ...services.s3, bucket } });
  try {
    const runs = { small: [] as Run[], big: [] as Run[] };
    for (let rep = 0; rep < reps; rep++) {
      runs.small.push(await s3Row(services, bucket, work, small));
      runs.big.push(await s3Row(services, bucket, work, big));
    }
    const low = Math.min(...runs.small.map((r) => r.mib));
    const high = Math.max(...runs.big.map((r) => r.mib));
    const ratio = high / low;
    const list = (rs: Run[], key: keyof Run, digits: number) =>
      rs.map((r) => r[key].toFixed(digits)).join(", ");
    console.log(`\n| S3 store, one upload (curl) | peak RSS (MiB) | server CPU (s) |`);
    console.log(`| --- | --- | --- |`);
    for (const [size, rs] of [[small, runs.small], [big, runs.big]] as const) {
      console.log(`| ${formatBytes(size)} | ${list(rs, "mib", 0)} | ${list(rs, "cpu", 2)} |`);
    }
    console.log(
      `\n${formatBytes(big)} ÷ ${formatBytes(small)}: ${ratio.toFixed(2)}× (target ≤ ${
        1 + FLAT_WITHIN
      }×): ${ratio <= 1 + FLAT_WITHIN ? "met" : "not met"}; every row's size and SHA-256 verified`,
    );
  } finally {
    await emptyPrefix(s3, "").catch(() => {});
    await s3.deleteBucket().catch(() => {});
    s3.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
