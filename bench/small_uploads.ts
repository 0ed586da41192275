/**
 * The load generator for bench/e2e.ts's "many small uploads" rows: COUNT uploads of SIZE bytes,
 * each one POST with its bytes (tus creation-with-upload), CONCURRENCY in flight, over keep-alive
 * connections. The same generator drives our server and the peer.
 *
 *     deno run --allow-net=127.0.0.1 bench/small_uploads.ts --url URL [--count 2000]
 *       [--size 4096] [--concurrency 16]
 *
 * Prints one JSON line: `{"seconds": …, "urls": [url of upload i, …], "errors": […]}`; `seconds`
 * runs from the first request to the last response. Upload i carries `smallBody(i, SIZE)`, so the
 * caller can check every stored file.
 */
import { parseArgs } from "node:util";
import { randomBytes } from "../tests/helpers/random_bytes.ts";

/** Deterministic bytes for upload `index`, different for every index. */
export function smallBody(index: number, size: number): Uint8Array<ArrayBuffer> {
  return randomBytes(size, Math.imul(index + 1, 2654435761));
}

export interface SmallUploadsReport {
  seconds: number;
  /** Index-aligned: the upload URL of body i ("" where it failed). */
  urls: string[];
  errors: string[];
}

async function run(url: string, count: number, size: number, concurrency: number) {
  const bodies = Array.from({ length: count }, (_, i) => smallBody(i, size));
  const urls: string[] = Array(count).fill("");
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: {
            "Tus-Resumable": "1.0.0",
            "Upload-Length": String(size),
            "Content-Type": "application/offset+octet-stream",
          },
          body: bodies[i]!,
        });
        await res.body?.cancel();
        const location = res.headers.get("location");
        const offset = res.headers.get("upload-offset");
        if (res.status !== 201 || location === null || offset !== String(size)) {
          errors.push(`upload ${i}: ${res.status}, Upload-Offset ${offset}`);
        } else {
          urls[i] = new URL(location, url).href;
        }
      } catch (error) {
        errors.push(`upload ${i}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const report: SmallUploadsReport = { seconds, urls, errors: errors.slice(0, 20) };
  console.log(JSON.stringify(report));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      url: { type: "string" },
      count: { type: "string", default: "2000" },
      size: { type: "string", default: "4096" },
      concurrency: { type: "string", default: "16" },
    },
  });
  if (values.url === undefined) {
    console.error("usage: small_uploads.ts --url URL [--count N] [--size B] [--concurrency N]");
    Deno.exit(2);
  }
  await run(values.url, Number(values.count), Number(values.size), Number(values.concurrency));
}
