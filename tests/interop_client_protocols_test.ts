/**
 * Our client CLI driving our server in each dialect it speaks, and with the extensions it uses:
 * `--protocol ietf` (the IETF draft, by default at interop version 8; every version in
 * client_ietf_e2e_test.ts),
 * `--protocol plain` (no tus headers), `--checksum sha1` (Upload-Checksum on every PATCH) and
 * `--parallel 3` (partial uploads and a final concatenation, also resumed after a kill). Traffic
 * is observed through the recording proxy; bytes are checked in the server's data file.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
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
import { startServer, type TestServer } from "./helpers/server.ts";
import { randomBytes } from "./helpers/uploads.ts";

const MiB = 1024 * 1024;

async function writeSource(path: string, size: number, seed: number) {
  await Deno.writeFile(path, randomBytes(size, seed));
  return await digestsOf(path);
}

/** `client upload FILE --endpoint <recorder>/files --state-dir … --json …extra`. */
function uploadArgs(file: string, recorder: HttpRecorder, stateDir: string, extra: string[]) {
  return [
    "upload",
    file,
    "--endpoint",
    recorder.url("/files"),
    "--state-dir",
    stateDir,
    "--json",
    ...extra,
  ];
}

/** HEAD in the tus dialect, straight to the server. */
async function tusHead(server: TestServer, id: string): Promise<Response> {
  const res = await fetch(`${server.url}/${id}`, {
    method: "HEAD",
    headers: { "Tus-Resumable": "1.0.0" },
  });
  await res.body?.cancel();
  return res;
}

/** Asserts the upload is complete on the server and its data file is the source. */
async function assertComplete(server: TestServer, id: string, md5: string, size: number) {
  const head = await tusHead(server, id);
  assert.equal(head.status, 200, `HEAD /files/${id}`);
  assert.equal(head.headers.get("upload-offset"), String(size));
  assert.equal(head.headers.get("upload-length"), String(size), "the upload's length is known");
  assert.equal((await digestsOf(server.dataPath(id))).md5, md5, "MD5 of the stored bytes");
}

function assertContiguous(patches: RecordedRequest[], from: number, to: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    assert.ok(p.status !== undefined && p.status < 300, `PATCH #${p.index} answered ${p.status}`);
    // Bodies stream (so progress shows bytes as they go out): chunked, or an exact Content-Length.
    assert.equal(p.bodyBytes, p.contentLength ?? p.bodyBytes, `PATCH #${p.index}: Content-Length`);
    at += p.bodyBytes;
  }
  assert.equal(at, to, `the PATCHes should end at ${to}`);
}

Deno.test("our client with --protocol ietf speaks the draft (interop version 8) to our server; MD5 right", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  await using work = await tempDir();
  const file = `${work.path}/ietf.bin`;
  const source = await writeSource(file, 6 * MiB + 11, 301);

  const run = await runClient(
    uploadArgs(file, recorder, `${work.path}/state`, [
      "--protocol",
      "ietf",
      "--chunk-size",
      "2MiB",
    ]),
  );
  assertExit(run, 0);
  const done = completedEvent(run);
  assert.equal(done.md5, source.md5);
  await recorder.settled();

  for (const r of recorder.requests) {
    assert.equal(r.headers.get("upload-draft-interop-version"), "8", `${r.method} #${r.index}`);
    assert.ok(!r.headers.has("tus-resumable"), `${r.method} #${r.index} sent Tus-Resumable`);
  }
  const [post] = recorder.byMethod("POST");
  assert.equal(post?.bodyBytes, 2 * MiB, "the creation carries the first chunk");
  const patches = recorder.byMethod("PATCH");
  assert.ok(patches.length >= 3, `expected the 2 MiB chunks as PATCHes, got ${patches.length}`);
  assertContiguous(patches, 2 * MiB, source.size);
  for (const p of patches) {
    assert.equal(p.headers.get("content-type"), "application/partial-upload");
    const last = p.uploadOffset! + p.bodyBytes === source.size;
    assert.equal(p.headers.get("upload-complete"), last ? "?1" : "?0", `PATCH #${p.index}`);
  }
  await assertComplete(server, idOf(done.url), source.md5, source.size);
});

Deno.test("our client with --protocol plain sends no tus headers to our server; MD5 right and digest-verified", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  await using work = await tempDir();
  const file = `${work.path}/plain.bin`;
  const source = await writeSource(file, 5 * MiB + 3, 302);

  const run = await runClient(
    uploadArgs(file, recorder, `${work.path}/state`, [
      "--protocol",
      "plain",
      "--chunk-size",
      "2MiB",
    ]),
  );
  assertExit(run, 0);
  const done = completedEvent(run);
  assert.equal(done.md5, source.md5);
  assert.equal(done.verified, "digest", "our server gives Repr-Digest in the plain dialect too");
  await recorder.settled();

  for (const r of recorder.requests) {
    for (const name of ["tus-resumable", "upload-draft-interop-version"]) {
      assert.ok(!r.headers.has(name), `${r.method} #${r.index} sent ${name}`);
    }
  }
  assert.equal(recorder.byMethod("POST").length, 1);
  assertContiguous(recorder.byMethod("PATCH"), 0, source.size);
  await assertComplete(server, idOf(done.url), source.md5, source.size);
});

Deno.test("our client with --checksum sha1 sends the right Upload-Checksum with every PATCH to our server", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  await using work = await tempDir();
  const file = `${work.path}/checksum.bin`;
  const size = 4 * MiB + 1000;
  const source = await writeSource(file, size, 303);
  const bytes = await Deno.readFile(file);

  const run = await runClient(
    uploadArgs(file, recorder, `${work.path}/state`, [
      "--checksum",
      "sha1",
      "--chunk-size",
      "1MiB",
    ]),
  );
  assertExit(run, 0);
  const done = completedEvent(run);
  assert.equal(done.md5, source.md5);
  await recorder.settled();

  const patches = recorder.byMethod("PATCH");
  assert.equal(patches.length, 5, "four 1 MiB chunks and the rest");
  assertContiguous(patches, 0, size);
  for (const p of patches) {
    const chunk = bytes.subarray(p.uploadOffset!, p.uploadOffset! + p.bodyBytes);
    const expected = `sha1 ${createHash("sha1").update(chunk).digest("base64")}`;
    assert.equal(
      p.headers.get("upload-checksum"),
      expected,
      `Upload-Checksum of PATCH #${p.index}`,
    );
    assert.equal(p.status, 204, `PATCH #${p.index} was accepted with its checksum`);
  }
  await assertComplete(server, idOf(done.url), source.md5, size);
});

Deno.test("our client with --parallel 3 uploads three partial uploads and concatenates them on our server", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  await using work = await tempDir();
  const file = `${work.path}/parallel.bin`;
  const size = 24 * MiB + 5; // big enough that concurrent part reads overlap
  const source = await writeSource(file, size, 304);

  const run = await runClient(
    uploadArgs(file, recorder, `${work.path}/state`, ["--parallel", "3", "--chunk-size", "1MiB"]),
  );
  assertExit(run, 0);
  const done = completedEvent(run);
  assert.equal(done.md5, source.md5);
  assert.equal(done.size, size);
  await recorder.settled();

  const posts = recorder.byMethod("POST");
  const partials = posts.filter((r) => r.headers.get("upload-concat") === "partial");
  assert.equal(partials.length, 3, `three partial uploads\n${describeRun(run)}`);
  assert.ok(partials.every((r) => r.status === 201));
  const partialLengths = partials.map((r) => Number(r.headers.get("upload-length")));
  assert.equal(partialLengths.reduce((a, b) => a + b, 0), size, "the parts cover the file");
  const finals = posts.filter((r) => r.headers.get("upload-concat")?.startsWith("final;"));
  assert.equal(finals.length, 1, "one final upload");
  assert.equal(finals[0]!.status, 201);
  assert.equal(
    recorder.bodyBytes("PATCH"),
    size,
    "every byte was sent once, to the partial uploads",
  );
  const finalId = idOf(done.url);
  assert.equal(idOf(finals[0]!.responseHeaders!.get("location")!), finalId);
  await assertComplete(server, finalId, source.md5, size);
});

Deno.test("our client with --parallel 3 killed half-way resumes every part from its own offset on our server; MD5 right", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  await using work = await tempDir();
  const file = `${work.path}/parallel-crash.bin`;
  const size = 24 * MiB + 7;
  const source = await writeSource(file, size, 305);
  const command = uploadArgs(file, recorder, `${work.path}/state`, [
    "--parallel",
    "3",
    "--chunk-size",
    "1MiB",
  ]);

  const first = await runClient([...command, "--crash-after", "0.5"]);
  assertKilled(first);
  await recorder.settled();
  const partials = recorder.byMethod("POST").filter((r) =>
    r.headers.get("upload-concat") === "partial"
  );
  assert.equal(partials.length, 3, `three partial uploads\n${describeRun(first)}`);
  const partIds = partials.map((r) => idOf(r.responseHeaders!.get("location")!));
  const atCrash = new Map<string, number>();
  for (const id of partIds) {
    const head = await tusHead(server, id);
    assert.equal(head.status, 200, `HEAD of part ${id}`);
    atCrash.set(id, Number(head.headers.get("upload-offset")));
  }
  const kept = [...atCrash.values()].reduce((a, b) => a + b, 0);
  assert.ok(kept >= size / 2 && kept < size, `the parts hold ${kept} of ${size} at the crash`);

  recorder.clear();
  const second = await runClient(command);
  assertExit(second, 0);
  const resumed = eventsOf(second).filter((e) => e.type === "resumed");
  assert.equal(resumed.length, 3, `each part is resumed\n${describeRun(second)}`);
  for (const e of resumed) {
    const id = idOf(String(e.url));
    assert.equal(e.offset, atCrash.get(id), `part ${id} resumes at the server's offset`);
  }
  const done = completedEvent(second);
  assert.equal(done.md5, source.md5);
  await recorder.settled();
  const posts = recorder.byMethod("POST");
  assert.equal(posts.length, 1, "the second run creates only the final upload");
  assert.match(posts[0]!.headers.get("upload-concat") ?? "", /^final;/);
  assert.equal(recorder.bodyBytes("PATCH"), size - kept, "only the missing bytes are sent");
  for (const [i, id] of partIds.entries()) {
    const part = await Deno.readFile(server.dataPath(id));
    const length = Number(partials[i]!.headers.get("upload-length"));
    assert.equal(part.length, length, `part ${id} is complete`);
  }
  await assertComplete(server, idOf(done.url), source.md5, size);
});
