/** Small client-side helpers shared by the end-to-end tests (plain dialect, via fetch). */

import { createHash } from "node:crypto";
import { RawConnection } from "./raw_http.ts";
import type { TestServer } from "./server.ts";

export { randomBytes } from "./random_bytes.ts";

export function md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

export interface CreatedUpload {
  id: string;
  /** Absolute upload URL as the server handed it out. */
  url: string;
  /** The upload's path, e.g. `/files/<id>`. */
  path: string;
}

/** POST /files (plain dialect) with an optional Upload-Length; asserts 201. */
export async function createUpload(server: TestServer, length?: number): Promise<CreatedUpload> {
  const headers: Record<string, string> = {};
  if (length !== undefined) headers["Upload-Length"] = String(length);
  const res = await fetch(server.url, { method: "POST", headers });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${server.url} answered ${res.status}: ${text}`);
  const { id, url } = JSON.parse(text) as { id: string; url: string };
  return { id, url, path: new URL(url).pathname };
}

export interface HeadResult {
  status: number;
  /** Upload-Offset as a number, or undefined when absent. */
  offset: number | undefined;
  headers: Headers;
}

/** HEAD on an upload URL (taken relative to the server's current origin). */
export async function head(server: TestServer, path: string): Promise<HeadResult> {
  const res = await fetch(server.origin + path, { method: "HEAD" });
  await res.body?.cancel();
  return { status: res.status, offset: offsetOf(res.headers), headers: res.headers };
}

export interface PatchResult {
  status: number;
  offset: number | undefined;
  headers: Headers;
  text: string;
}

/** PATCH `body` at `offset` (plain dialect); always consumes the response. */
export async function patch(
  server: TestServer,
  path: string,
  offset: number,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<PatchResult> {
  const res = await fetch(server.origin + path, {
    method: "PATCH",
    headers: {
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": String(offset),
      ...headers,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, offset: offsetOf(res.headers), headers: res.headers, text };
}

/** Size of a file, or undefined if it does not exist. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  return (await fileSize(path)) !== undefined;
}

/** The offset as the headers state it. */
export function offsetOf(headers: Headers): number | undefined {
  const value = headers.get("upload-offset");
  return value === null ? undefined : Number(value);
}

/** Bytes in a ReadableStream of `data`, in chunks of the given sizes (cycled). */
export function streamOf(
  data: Uint8Array,
  chunkSizes: number[] = [65536],
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let at = 0;
  let i = 0;
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (at >= data.length) {
        controller.close();
        return;
      }
      const size = chunkSizes[i++ % chunkSizes.length]!;
      // A copy: the consumer may transfer or keep the chunk.
      controller.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}

/** Every file below `dir`, as paths relative to it, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(`${dir}${sub}`)) {
      const rel = `${sub}/${entry.name}`;
      if (entry.isDirectory) await walk(rel);
      else out.push(rel.slice(1));
    }
  };
  await walk("");
  return out.sort();
}

/**
 * A tus PATCH at offset 0 announcing `length` body bytes, on a raw connection, its head sent and
 * no body byte yet: the caller sends what it wants (a part, then silence; or nothing more).
 */
export async function startPatch(
  server: TestServer,
  path: string,
  length: number,
  headers: Record<string, string> = {},
): Promise<RawConnection> {
  const conn = await RawConnection.connect(server.url);
  await conn.sendHead("PATCH", path, {
    "Content-Type": "application/offset+octet-stream",
    "Upload-Offset": "0",
    "Content-Length": String(length),
    ...headers,
  });
  return conn;
}
