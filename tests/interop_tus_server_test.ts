/**
 * Interop: our client CLI against a third-party tus server, `npm:@tus/server` with
 * `npm:@tus/file-store` (tests/helpers/tus_node_server.ts runs it under Deno via `handleWeb`, in a
 * child process). Bytes are verified on disk, in the file store's data file.
 *
 * That server offers creation, creation-with-upload, creation-defer-length, termination and
 * expiration only: no checksum, no concatenation and no digests. The client must still work,
 * and say what it could not do: verification by size only, and `--parallel` falling back to one
 * stream.
 */

import assert from "node:assert/strict";
import {
  assertExit,
  assertKilled,
  completedEvent,
  describeRun,
  digestsOf,
  eventsOf,
  idOf,
  runClient,
  tempDir,
} from "./helpers/client_cli.ts";
import { HttpRecorder, type RecordedRequest } from "./helpers/http_recorder.ts";
import { startTusNodeServer, type TusNodeServer } from "./helpers/tus_node_server.ts";
import { randomBytes } from "./helpers/uploads.ts";

const MiB = 1024 * 1024;

/** Writes `size` deterministic bytes to `path`. */
async function writeSource(path: string, size: number, seed: number) {
  await Deno.writeFile(path, randomBytes(size, seed));
  return await digestsOf(path);
}

/** The file store's record of an upload (what @tus/file-store writes to `<id>.json`). */
interface TusNodeInfo {
  id: string;
  size?: number;
  offset: number;
  metadata?: Record<string, string | null>;
}

async function infoOf(tus: TusNodeServer, id: string): Promise<TusNodeInfo> {
  return JSON.parse(await Deno.readTextFile(tus.infoPath(id)));
}

/** The server's offset for an upload (HEAD in the tus dialect). */
async function tusOffset(tus: TusNodeServer, id: string): Promise<number> {
  const res = await fetch(`${tus.url}/${id}`, {
    method: "HEAD",
    headers: { "Tus-Resumable": "1.0.0" },
  });
  await res.body?.cancel();
  assert.equal(res.status, 200, `HEAD ${tus.url}/${id}`);
  const offset = res.headers.get("upload-offset");
  assert.ok(offset !== null && /^\d+$/.test(offset), `HEAD without a valid Upload-Offset`);
  return Number(offset);
}

/** The ids of every upload in the file store's directory. */
async function storedIds(tus: TusNodeServer): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of Deno.readDir(tus.dir)) {
    if (entry.isFile && !entry.name.endsWith(".json")) ids.push(entry.name);
  }
  return ids.sort();
}

function assertContiguous(patches: RecordedRequest[], from: number, to: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    assert.equal(p.status, 204, `PATCH #${p.index} answered ${p.status}`);
    // Bodies stream (so progress shows bytes as they go out): chunked, or an exact Content-Length.
    assert.equal(p.bodyBytes, p.contentLength ?? p.bodyBytes, `PATCH #${p.index}: Content-Length`);
    at += p.bodyBytes;
  }
  assert.equal(at, to, `the PATCHes should end at ${to}`);
}

/** The upload URL a recorded POST was answered with. */
function createdUrl(recorder: HttpRecorder): string {
  const created = recorder.byMethod("POST").filter((r) => r.status === 201);
  assert.equal(created.length, 1, "expected exactly one upload created");
  const location = created[0]!.responseHeaders?.get("location");
  assert.ok(location, "201 without Location");
  return location;
}

Deno.test("our client uploads to @tus/server: bytes on disk match, metadata arrives, no extension it lacks is used", async () => {
  await using tus = await startTusNodeServer();
  await using recorder = HttpRecorder.start({ target: tus.origin });
  await using work = await tempDir();
  const file = `${work.path}/full upload.bin`;
  const source = await writeSource(file, 20 * MiB + 4321, 201);

  const run = await runClient([
    "upload",
    file,
    "--endpoint",
    recorder.url("/files"),
    "--state-dir",
    `${work.path}/state`,
    "--json",
  ]);
  assertExit(run, 0);
  const done = completedEvent(run);
  assert.equal(done.size, source.size);
  assert.equal(done.md5, source.md5);
  assert.equal(done.sha256, source.sha256);
  await recorder.settled();

  const id = idOf(createdUrl(recorder));
  assert.equal(idOf(done.url), id);
  assert.equal((await digestsOf(tus.dataPath(id))).md5, source.md5, "MD5 of the stored bytes");
  assert.equal(await tusOffset(tus, id), source.size);
  const info = await infoOf(tus, id);
  assert.equal(info.size, source.size);
  assert.equal(info.metadata?.filename, "full upload.bin", "the filename metadata arrived");

  const post = recorder.byMethod("POST")[0]!;
  assert.equal(post.headers.get("tus-resumable"), "1.0.0");
  assert.equal(post.headers.get("upload-length"), String(source.size));
  assertContiguous(recorder.byMethod("PATCH"), 0, source.size);
  for (const r of recorder.requests) {
    if (r.method !== "OPTIONS") {
      assert.equal(r.headers.get("tus-resumable"), "1.0.0", `${r.method} #${r.index}`);
    }
    assert.ok(
      !r.headers.has("upload-checksum"),
      `${r.method} #${r.index} carried Upload-Checksum, which the server does not offer`,
    );
    assert.ok(
      !r.headers.has("upload-concat"),
      `${r.method} #${r.index} carried Upload-Concat, which the server does not offer`,
    );
  }
  assert.deepEqual(await storedIds(tus), [id], "exactly one upload on the server");
});

Deno.test("against @tus/server (no digests) the client verifies the size and says it could not compare digests", async () => {
  await using tus = await startTusNodeServer();
  await using work = await tempDir();
  const file = `${work.path}/nodigest.bin`;
  const source = await writeSource(file, 3 * MiB + 5, 202);
  const command = ["upload", file, "--endpoint", tus.url];

  const json = await runClient([...command, "--state-dir", `${work.path}/state1`, "--json"]);
  assertExit(json, 0);
  const done = completedEvent(json);
  assert.equal(done.verified, "size", "without Repr-Digest only the size can be verified");
  assert.equal(done.md5, source.md5, "the local MD5 is still reported");

  const human = await runClient([...command, "--state-dir", `${work.path}/state2`]);
  assertExit(human, 0);
  assert.match(
    human.stdout,
    /^uploaded .+\nURL \S+\nsize matched; the server gave no digest to compare\nMD5 [0-9a-f]{32} \(not compared\)\n$/,
    describeRun(human),
  );
  assert.doesNotMatch(
    human.stdout,
    /matched\nSHA-256|MD5 [0-9a-f]{32} matched/,
    "no claim of a match",
  );
  for (const id of await storedIds(tus)) {
    assert.equal((await digestsOf(tus.dataPath(id))).md5, source.md5, `MD5 of upload ${id}`);
  }
});

Deno.test("our client crashed half-way against @tus/server resumes from that server's offset on the next run", async () => {
  await using tus = await startTusNodeServer();
  await using recorder = HttpRecorder.start({ target: tus.origin });
  await using work = await tempDir();
  const file = `${work.path}/crash.bin`;
  const source = await writeSource(file, 16 * MiB + 17, 203);
  const command = [
    "upload",
    file,
    "--endpoint",
    recorder.url("/files"),
    "--state-dir",
    `${work.path}/state`,
    "--chunk-size",
    "1MiB",
    "--json",
  ];

  const first = await runClient([...command, "--crash-after", "0.5"]);
  assertKilled(first);
  await recorder.settled();
  const id = idOf(createdUrl(recorder));
  const atCrash = await tusOffset(tus, id);
  assert.ok(atCrash >= source.size / 2 && atCrash < source.size, `offset at the crash ${atCrash}`);
  assert.equal((await Deno.stat(tus.dataPath(id))).size, atCrash, "data file size = offset");
  assertContiguous(recorder.byMethod("PATCH"), 0, atCrash);

  recorder.clear();
  const second = await runClient(command);
  assertExit(second, 0);
  const events = eventsOf(second);
  assert.deepEqual(events[0], {
    type: "resumed",
    url: recorder.url(`/files/${id}`),
    offset: atCrash,
  }, describeRun(second));
  assert.equal(events.filter((e) => e.type === "created").length, 0, "no new upload");
  const done = completedEvent(second);
  assert.equal(done.md5, source.md5);
  assert.equal(idOf(done.url), id);
  await recorder.settled();
  assert.equal(recorder.byMethod("POST").length, 0);
  assertContiguous(recorder.byMethod("PATCH"), atCrash, source.size);
  assert.equal((await digestsOf(tus.dataPath(id))).md5, source.md5, "MD5 of the stored bytes");
  assert.deepEqual(await storedIds(tus), [id]);
});

Deno.test("--parallel 3 against @tus/server (no concatenation) falls back to one stream with a notice", async () => {
  await using tus = await startTusNodeServer();
  await using recorder = HttpRecorder.start({ target: tus.origin });
  await using work = await tempDir();
  const file = `${work.path}/parallel.bin`;
  const source = await writeSource(file, 9 * MiB + 3, 204);

  const run = await runClient([
    "upload",
    file,
    "--endpoint",
    recorder.url("/files"),
    "--state-dir",
    `${work.path}/state`,
    "--chunk-size",
    "2MiB",
    "--parallel",
    "3",
  ]);
  assertExit(run, 0);
  assert.match(
    run.stderr + run.stdout,
    /concatenation|parallel/i,
    `a notice should say parallel uploads are not possible here\n${describeRun(run)}`,
  );
  await recorder.settled();

  const id = idOf(createdUrl(recorder));
  assert.deepEqual(await storedIds(tus), [id], "one upload, no partial uploads left behind");
  const patches = recorder.byMethod("PATCH");
  assert.ok(patches.every((p) => p.path === `/files/${id}`), "every PATCH went to that upload");
  assertContiguous(patches, 0, source.size);
  assert.equal((await digestsOf(tus.dataPath(id))).md5, source.md5, "MD5 of the stored bytes");
});
