/**
 * Server instances on one bucket and one database (the real S3-compatible server and PostgreSQL
 * of tests/helpers/services.ts), for scale-out tests: each test gets a bucket and a schema of its
 * own, removed afterwards with every server it started.
 */
import { createHash } from "node:crypto";
import { base64ToHex, parseReprDigest } from "../../lib/digest_header.ts";
import type { S3Client } from "../../server/store/s3/s3_client.ts";
import { startServer, type TestServer } from "./server.ts";
import {
  emptyPrefix,
  s3StoreFlags,
  type Services,
  testBucket,
  type TestSchema,
  testSchema,
  testServices,
} from "./services.ts";
import { md5 } from "./uploads.ts";

export const services: Services | undefined = testServices();

export interface Cluster {
  s3: S3Client;
  bucket: string;
  schema: TestSchema;
  /**
   * Starts one more instance on the shared bucket and database: `extra` flags go last (they win),
   * `env` over the static credentials it is given by default.
   */
  start(extra?: string[], env?: Record<string, string>): Promise<TestServer>;
}

/** A bucket and a database schema of its own, and servers on them; all removed afterwards. */
export async function withCluster(fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  const svc = services as Services;
  const bucket = `rt-${crypto.randomUUID().slice(0, 13)}`;
  const s3 = await testBucket({ ...svc, s3: { ...svc.s3, bucket } });
  const schema = await testSchema(svc);
  const servers: TestServer[] = [];
  try {
    await fn({
      s3,
      bucket,
      schema,
      async start(extra = [], env = {}) {
        const store = s3StoreFlags(svc, bucket, schema.url);
        const server = await startServer({
          args: [...store.args, "--s3-region", svc.s3.region, "--s3-part-size", "5MiB", ...extra],
          env: { ...store.env, ...env },
        });
        servers.push(server);
        return server;
      },
    });
  } finally {
    for (const server of servers) await server[Symbol.asyncDispose]();
    await emptyPrefix(s3, "").catch(() => {});
    await s3.deleteBucket().catch(() => {});
    s3.close();
    await schema.drop();
  }
}

export function scaleTest(name: string, fn: (cluster: Cluster) => Promise<void>): void {
  Deno.test({
    name: `scale-out: ${name}`,
    ignore: services === undefined,
    // The servers' own connections end with their processes.
    sanitizeResources: false,
    fn: () => withCluster(fn),
  });
}

/** The MD5 of an object's bytes, straight from the bucket. */
export async function objectMd5(s3: S3Client, key: string): Promise<string> {
  const hash = createHash("md5");
  for await (const chunk of await s3.getObject(key)) hash.update(chunk);
  return hash.digest("hex");
}

/** GET through a server: the bytes' MD5 and the MD5 its Repr-Digest states. */
export async function download(server: TestServer, path: string) {
  const res = await fetch(server.origin + path);
  const body = new Uint8Array(await res.arrayBuffer());
  const digest = parseReprDigest(res.headers.get("repr-digest") ?? "");
  return {
    status: res.status,
    md5: md5(body),
    stated: digest?.md5 ? base64ToHex(digest.md5) : undefined,
  };
}
