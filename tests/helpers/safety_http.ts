/** Plain-dialect requests for the safety tests: every answer read whole, errors' messages picked out. */
import assert from "node:assert/strict";
import type { TestServer } from "./server.ts";
import { exists } from "./uploads.ts";

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const OCTETS = "application/offset+octet-stream";
export const SECRET = "s3cret-for-the-e2e-tests-0123456789";
export const CLIENT_TIMEOUT_MS = 30_000;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** One request via fetch (plain dialect unless headers say otherwise); the body is always read. */
export async function call(
  server: TestServer,
  method: string,
  path: string,
  { token, headers = {}, body }: {
    token?: string;
    headers?: Record<string, string>;
    body?: BodyInit;
  } = {},
): Promise<Answer> {
  const all: Record<string, string> = { ...headers };
  if (token !== undefined) all["Authorization"] = `Bearer ${token}`;
  const res = await fetch(server.origin + path, {
    method,
    headers: all,
    ...(body === undefined ? {} : { body }),
  });
  const text = method === "HEAD" ? (await res.body?.cancel(), "") : await res.text();
  return { status: res.status, headers: res.headers, text };
}

export interface Created {
  id: string;
  path: string;
  url: string;
}

/** POST (plain dialect); asserts 201. */
export async function create(
  server: TestServer,
  headers: Record<string, string>,
  token?: string,
): Promise<Created> {
  const res = await call(server, "POST", "/files", { headers, ...(token ? { token } : {}) });
  assert.equal(res.status, 201, `POST ${JSON.stringify(headers)}: ${res.status} ${res.text}`);
  const url = res.headers.get("location")!;
  const path = new URL(url).pathname;
  return { id: path.split("/").pop()!, path, url };
}

export async function patchAt(
  server: TestServer,
  path: string,
  offset: number,
  body: BodyInit,
  token?: string,
): Promise<Answer> {
  return await call(server, "PATCH", path, {
    headers: { "Content-Type": OCTETS, "Upload-Offset": String(offset) },
    body,
    ...(token ? { token } : {}),
  });
}

export function metadata(pairs: Record<string, string>): string {
  return Object.entries(pairs).map(([k, v]) => `${k} ${btoa(v)}`).join(",");
}

/** The message of a plain-dialect JSON error. */
export function messageOf(answer: Answer): string {
  try {
    return (JSON.parse(answer.text) as { error: { message: string } }).error.message;
  } catch {
    return answer.text;
  }
}

/** The upload's bytes are gone and only a tombstone says it was terminated. */
export async function assertGone(server: TestServer, id: string, what: string): Promise<void> {
  assert.equal(await exists(server.dataPath(id)), false, `${what}: data file left behind`);
  const info = JSON.parse(await Deno.readTextFile(server.infoPath(id)));
  assert.equal(info.ended?.state, "terminated", `${what}: not a tombstone`);
}
