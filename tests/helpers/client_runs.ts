/** Running the client CLI against a real server and reading what it did: output, traffic, files. */
import assert from "node:assert/strict";
import { assertExit, type ClientRun, type Digests, digestsOf, runClient } from "./client_cli.ts";
import { HttpRecorder, type RecordedRequest } from "./http_recorder.ts";
import type { TestServer } from "./server.ts";
import { fileSize, head } from "./uploads.ts";

export const MiB = 1024 * 1024;
const CLIENT_TIMEOUT_MS = 60_000;
export const client = (args: string[], timeoutMs = CLIENT_TIMEOUT_MS) => runClient(args, timeoutMs);
const UPLOADED =
  /^uploaded (.+)\nURL (\S+)\nMD5 ([0-9a-f]{32}) matched\nSHA-256 ([0-9a-f]{64}) matched\n$/;

/** `client generate FILE --size SIZE --seed SEED`; returns the file's digests. */
export async function generate(
  path: string,
  size: string | number,
  seed: number,
): Promise<Digests> {
  const run = await client(["generate", path, "--size", String(size), "--seed", String(seed)]);
  assertExit(run, 0);
  return await digestsOf(path);
}

/** Bytes [offset, offset + length) of a file. */
export async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  assert.equal(got, length, `${path} is shorter than ${offset + length} bytes`);
  return out;
}

/** The upload URL a recorded POST was answered with (as the server gave it). */
export function createdUrl(recorder: HttpRecorder): string {
  const posts = recorder.byMethod("POST");
  assert.equal(posts.length, 1, "expected exactly one POST (one upload created)");
  const location = posts[0]!.responseHeaders?.get("location");
  assert.ok(location, `POST answered ${posts[0]!.status} without Location`);
  return location;
}

/** The server's offset for an upload (HEAD), checked against the size of its data file. */
export async function serverOffset(server: TestServer, id: string): Promise<number> {
  const res = await head(server, `/files/${id}`);
  assert.equal(res.status, 200, `HEAD /files/${id}`);
  assert.ok(res.offset !== undefined, "HEAD without Upload-Offset");
  assert.equal(
    await fileSize(server.dataPath(id)),
    res.offset,
    "the data file's size must equal the offset HEAD reports",
  );
  return res.offset;
}

/** Asserts the PATCHes are back to back from `from` and each body was exactly its Content-Length. */
export function assertContiguous(patches: RecordedRequest[], from: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    // Bodies stream (so progress shows bytes as they go out): chunked, or an exact Content-Length.
    assert.equal(p.bodyBytes, p.contentLength ?? p.bodyBytes, `PATCH #${p.index}: Content-Length`);
    at += p.bodyBytes;
  }
}

export function sum(patches: RecordedRequest[]): number {
  return patches.reduce((total, p) => total + p.bodyBytes, 0);
}

/** The success lines of a plain (non-JSON) upload, parsed. */
export function uploadedLine(run: ClientRun): { url: string; md5: string; sha256: string } {
  const m = UPLOADED.exec(run.stdout);
  assert.ok(m, `stdout should end with the URL and matched digests, got ${run.stdout}`);
  return { url: m[2]!, md5: m[3]!, sha256: m[4]! };
}
