/** The shared setup of the S3Store tests: a bucket prefix and schema per test, and test bodies. */
import { DigestState } from "../../../lib/deno/digest.ts";
import {
  emptyPrefix,
  type Services,
  testBucket,
  testSchema,
  testServices,
} from "../../../tests/helpers/services.ts";
import type { UploadRows } from "../pg_info.ts";
import { S3Client } from "./s3_client.ts";
import { S3Store } from "./s3_store.ts";

export const MiB = 1024 * 1024;
export const PART = 5 * MiB;
export const services = testServices();
export const never = new AbortController().signal;

export interface World {
  s3: S3Client;
  rows: UploadRows;
  prefix: string;
  /** Another store on the same bucket, database and prefix: a second instance. */
  open(options?: { now?: () => number; s3?: S3Client; partSize?: number }): Promise<S3Store>;
}

/** A bucket prefix, a database schema and scratch dirs of their own; `cleanup` removes them. */
export async function makeWorld(
  services: Services,
): Promise<{ world: World; cleanup(): Promise<void> }> {
  const s3 = await testBucket(services);
  const schema = await testSchema(services);
  const prefix = `${schema.name}/`;
  const dirs: string[] = [];
  const open = async (options: { now?: () => number; s3?: S3Client; partSize?: number } = {}) => {
    const dir = await Deno.makeTempDir({ prefix: "resumable-s3-" });
    dirs.push(dir);
    return await S3Store.open({ s3, rows: schema.rows, dir, partSize: PART, prefix, ...options });
  };
  return {
    world: { s3, rows: schema.rows, prefix, open },
    async cleanup() {
      await emptyPrefix(s3, prefix).catch(() => {});
      await schema.drop();
      s3.close();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

export function s3Test(name: string, fn: (world: World) => Promise<void>): void {
  Deno.test({
    name: `S3Store: ${name}`,
    ignore: services === undefined,
    async fn() {
      const { world, cleanup } = await makeWorld(services!);
      try {
        await fn(world);
      } finally {
        await cleanup();
      }
    },
  });
}

export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A body in chunks of `size` bytes, as a network would deliver it. */
export function chunked(data: Uint8Array, size = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.length) return controller.close();
      controller.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function digestsOf(data: Uint8Array) {
  const state = new DigestState();
  state.update(data);
  return state.digest();
}
