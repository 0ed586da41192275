/**
 * End-to-end tests of the client CLI (`main.ts client …`) against the real server, both as child
 * processes: resuming after a SIGKILL without re-sending acknowledged bytes, chunking, a server
 * whose offset moved (truncated, or advanced by another writer), a dropped connection, 503 with
 * Retry-After, a PATCH accepted without progress, a vanished upload (404), a file that changed
 * between runs or during the upload, download with Range, digest mismatches, every exit code, and
 * `status`.
 *
 * Traffic is observed through a recording HTTP proxy (tests/helpers/http_recorder.ts) or cut
 * with the TCP proxy (tests/helpers/tcp_proxy.ts); nothing sleeps to synchronise.
 */

import assert from "node:assert/strict";
import {
  assertExit,
  assertKilled,
  assertOneErrorLine,
  type ClientRun,
  describeRun,
  type Digests,
  digestsOf,
  idOf,
  lines,
  runClient,
  tempDir,
} from "./helpers/client_cli.ts";
import { createHash } from "node:crypto";
import { HttpRecorder, type RecordedRequest } from "./helpers/http_recorder.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { TcpProxy } from "./helpers/tcp_proxy.ts";
import { closedPort } from "./helpers/tcp_server.ts";
import { fileSize, head, patch } from "./helpers/uploads.ts";
import { TimeoutError, withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const CLIENT_TIMEOUT_MS = 60_000;
const client = (args: string[], timeoutMs = CLIENT_TIMEOUT_MS) => runClient(args, timeoutMs);
const UPLOADED =
  /^uploaded (\S+) \((.+)\): MD5 ([0-9a-f]{32}) matched \(SHA-256 ([0-9a-f]{64}) matched\)$/;

// ---------------------------------------------------------------------------------------------
// Helpers

type Event =
  | { type: "created"; url: string }
  | { type: "resumed"; url: string; offset: number }
  | { type: "restarted"; reason: string }
  | { type: "progress"; acknowledged: number; sent: number; total: number }
  | { type: "retry"; attempt: number; delayMs: number; reason: string }
  | {
    type: "completed";
    url: string;
    size: number;
    md5: string;
    sha256: string;
    verified: string;
  };

/** The `--json` events of a run, one per stdout line. */
function eventsOf(run: ClientRun): Event[] {
  return lines(run.stdout).map((line) => {
    try {
      return JSON.parse(line) as Event;
    } catch {
      throw new Error(`stdout line is not JSON: ${JSON.stringify(line)}\n${describeRun(run)}`);
    }
  });
}

function only<T extends Event["type"]>(events: Event[], type: T): Extract<Event, { type: T }>[] {
  return events.filter((e): e is Extract<Event, { type: T }> => e.type === type);
}

/** `client generate FILE --size SIZE --seed SEED`; returns the file's digests. */
async function generate(path: string, size: string | number, seed: number): Promise<Digests> {
  const run = await client(["generate", path, "--size", String(size), "--seed", String(seed)]);
  assertExit(run, 0);
  return await digestsOf(path);
}

/** Bytes [offset, offset + length) of a file. */
async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
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
function createdUrl(recorder: HttpRecorder): string {
  const posts = recorder.byMethod("POST");
  assert.equal(posts.length, 1, "expected exactly one POST (one upload created)");
  const location = posts[0]!.responseHeaders?.get("location");
  assert.ok(location, `POST answered ${posts[0]!.status} without Location`);
  return location;
}

/** The server's offset for an upload (HEAD), checked against the size of its data file. */
async function serverOffset(server: TestServer, id: string): Promise<number> {
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
function assertContiguous(patches: RecordedRequest[], from: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    assert.equal(p.bodyBytes, p.contentLength, `PATCH #${p.index}: body vs Content-Length`);
    at += p.bodyBytes;
  }
}

function sum(patches: RecordedRequest[]): number {
  return patches.reduce((total, p) => total + p.bodyBytes, 0);
}

/** The last non-empty stdout line of a plain (non-JSON) upload, parsed. */
function uploadedLine(run: ClientRun): { url: string; md5: string; sha256: string } {
  const last = lines(run.stdout).at(-1) ?? "";
  const m = UPLOADED.exec(last);
  assert.ok(m, `last stdout line should say the MD5 matched, got ${JSON.stringify(last)}`);
  return { url: m[1]!, md5: m[3]!, sha256: m[4]! };
}

function completedEvent(run: ClientRun): Extract<Event, { type: "completed" }> {
  const completed = only(eventsOf(run), "completed");
  assert.equal(completed.length, 1, `expected one "completed" event\n${describeRun(run)}`);
  return completed[0]!;
}

// ---------------------------------------------------------------------------------------------
// Resuming after a crash

Deno.test(
  "a client killed at a random point past half resumes from the server's offset and re-sends not one acknowledged byte",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/big.bin`;
    const source = await generate(file, "64MiB", 1);
    assert.equal(source.size, 64 * MiB);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
    ];

    const first = await client([...command, "--crash-after", "random"]);
    assertKilled(first);
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const atCrash = await serverOffset(server, id);
    assert.ok(
      atCrash >= source.size / 2,
      `the server should hold at least half the file at the crash, holds ${atCrash}`,
    );
    const firstPatches = recorder.byMethod("PATCH");
    assertContiguous(firstPatches, 0);
    assert.ok(firstPatches.every((p) => p.status === 204), "every PATCH of run 1 succeeded");
    assert.equal(sum(firstPatches), atCrash, "the crash came right after an acknowledgement");

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    const done = uploadedLine(second);
    assert.equal(done.md5, source.md5);
    assert.equal(done.sha256, source.sha256);
    assert.equal(idOf(done.url), id, "the second run finishes the same upload");
    await recorder.settled();
    assert.equal(recorder.byMethod("POST").length, 0, "no new upload on the second run");
    const patches = recorder.byMethod("PATCH");
    assert.equal(
      sum(patches),
      source.size - atCrash,
      "the second run sends exactly the bytes the server had not acknowledged",
    );
    assertContiguous(patches, atCrash);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "with --chunk-size 1MiB every PATCH carries exactly 1 MiB (the last may be shorter), before and after a crash",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/chunks.bin`;
    const size = 32 * MiB + 12_345; // the last chunk is short
    const source = await generate(file, size, 2);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--chunk-size",
      "1MiB",
    ];

    const first = await client([...command, "--crash-after", "random"]);
    assertKilled(first);
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const atCrash = await serverOffset(server, id);
    assert.ok(atCrash >= size / 2, `offset at the crash ${atCrash} should be ≥ half`);
    const all: RecordedRequest[] = [...recorder.byMethod("PATCH")];
    assertContiguous(all, 0);
    assert.equal(sum(all), atCrash);

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    assert.equal(uploadedLine(second).md5, source.md5);
    await recorder.settled();
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, atCrash);
    assert.equal(sum(patches), size - atCrash);
    all.push(...patches);

    assert.equal(sum(all), size);
    all.forEach((p, i) => {
      const last = i === all.length - 1;
      const expected = last ? size - p.uploadOffset! : MiB;
      assert.ok(expected > 0 && expected <= MiB);
      assert.equal(p.contentLength, expected, `Content-Length of PATCH at ${p.uploadOffset}`);
      assert.equal(p.bodyBytes, expected, `body bytes of PATCH at ${p.uploadOffset}`);
    });
    assert.equal(all.at(-1)!.bodyBytes, 12_345, "the last PATCH carries the short remainder");
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "after the server's data file was truncated between runs, the client resumes from the truncated offset and the result is right",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/truncated.bin`;
    const size = 32 * MiB;
    const source = await generate(file, size, 3);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ];

    assertKilled(await client([...command, "--crash-after", "0.5"]));
    await recorder.settled();
    const url = createdUrl(recorder);
    const id = idOf(url);
    assert.ok((await serverOffset(server, id)) >= 16 * MiB);
    const truncated = 10 * MiB + 12_345;
    await Deno.truncate(server.dataPath(id), truncated);
    assert.equal(await serverOffset(server, id), truncated);

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    const events = eventsOf(second);
    assert.deepEqual(events[0], {
      type: "resumed",
      url: recorder.url(`/files/${id}`),
      offset: truncated,
    });
    assert.equal(only(events, "created").length, 0);
    assert.equal(only(events, "restarted").length, 0);
    assert.equal(completedEvent(second).md5, source.md5);
    await recorder.settled();
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, truncated);
    assert.equal(sum(patches), size - truncated);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

// ---------------------------------------------------------------------------------------------
// Another writer moved the offset

Deno.test(
  "when another writer appends the next bytes mid-run, the client takes the 409, resyncs with HEAD and continues from the new offset",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const file = `${work.path}/raced.bin`;
    const size = 24 * MiB;
    const source = await generate(file, size, 4);
    const raceAt = 8 * MiB;
    const theirs = 4 * MiB;
    let raced: Promise<void> | undefined;
    await using recorder = HttpRecorder.start({
      target: server.origin,
      beforeForward: (request) => {
        if (request.method !== "PATCH" || request.uploadOffset !== raceAt || raced) return;
        // Another writer appends the right next bytes first, so the client's PATCH is stale.
        raced = (async () => {
          const bytes = await readRange(file, raceAt, theirs);
          const res = await patch(server, request.path, raceAt, bytes as Uint8Array<ArrayBuffer>);
          assert.equal(res.status, 204, `the other writer's PATCH: ${res.text}`);
          assert.equal(res.offset, raceAt + theirs);
        })();
        return raced;
      },
    });

    const run = await client([
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ]);
    assert.ok(raced, "the client never sent a PATCH at the racing offset");
    await raced;
    assertExit(run, 0);
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const patches = recorder.byMethod("PATCH");
    const stale = patches.findIndex((p) => p.uploadOffset === raceAt);
    assert.equal(patches[stale]?.status, 409, "the client's PATCH at the old offset got 409");
    assert.equal(
      patches[stale + 1]?.uploadOffset,
      raceAt + theirs,
      "the next PATCH starts where the other writer left off",
    );
    const heads = recorder.byMethod("HEAD").filter((h) => h.index > patches[stale]!.index);
    assert.ok(
      heads.some((h) => h.index < patches[stale + 1]!.index),
      "the client asked the server (HEAD) before continuing",
    );
    assertContiguous(patches.slice(stale + 1), raceAt + theirs);

    const events = eventsOf(run);
    assert.equal(only(events, "created").length, 1);
    assert.equal(only(events, "restarted").length, 0);
    assert.ok(only(events, "retry").length >= 1, "a retry (resync) event");
    assert.equal(completedEvent(run).md5, source.md5);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "when another writer advanced the upload between runs, the client resumes from the new offset and sends only the rest",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/advanced.bin`;
    const size = 24 * MiB;
    const source = await generate(file, size, 5);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ];

    assertKilled(await client([...command, "--crash-after", "0.5"]));
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const atCrash = await serverOffset(server, id);
    assert.ok(atCrash >= size / 2 && atCrash < size - 3 * MiB, `offset at the crash ${atCrash}`);
    const theirs = 3 * MiB + 7;
    const res = await patch(
      server,
      `/files/${id}`,
      atCrash,
      (await readRange(file, atCrash, theirs)) as Uint8Array<ArrayBuffer>,
    );
    assert.equal(res.status, 204, res.text);
    const advanced = atCrash + theirs;

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    const events = eventsOf(second);
    assert.equal(events[0]?.type, "resumed");
    assert.equal((events[0] as { offset: number }).offset, advanced);
    assert.equal(completedEvent(second).md5, source.md5);
    await recorder.settled();
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, advanced);
    assert.equal(sum(patches), size - advanced);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "when another writer appends wrong bytes mid-run, the client does not claim success: it exits 3 naming both digests",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const file = `${work.path}/poisoned.bin`;
    const size = 16 * MiB;
    const source = await generate(file, size, 6);
    let raced: Promise<void> | undefined;
    await using recorder = HttpRecorder.start({
      target: server.origin,
      beforeForward: (request) => {
        if (request.method !== "PATCH" || request.uploadOffset !== 8 * MiB || raced) return;
        raced = (async () => {
          const res = await patch(server, request.path, 8 * MiB, new Uint8Array(MiB).fill(0x5a));
          assert.equal(res.status, 204, res.text);
        })();
        return raced;
      },
    });
    const run = await client([
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
    ]);
    assert.ok(raced, "the client never sent a PATCH at 8 MiB");
    await raced;
    assertExit(run, 3);
    const line = assertOneErrorLine(run);
    const id = idOf(createdUrl(recorder));
    const stored = await digestsOf(server.dataPath(id));
    assert.notEqual(stored.md5, source.md5);
    for (const hex of [source.md5, source.sha256, stored.md5, stored.sha256]) {
      assert.ok(line.includes(hex), `the error should name ${hex}: ${line}`);
    }
    assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
  },
);

// ---------------------------------------------------------------------------------------------
// Network failure

Deno.test(
  "when the connection drops mid-chunk, the client retries, resumes from the server's offset and finishes with the right MD5",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using proxy = TcpProxy.start({ target: server });
    const file = `${work.path}/dropped.bin`;
    const size = 32 * MiB;
    const source = await generate(file, size, 7);
    proxy.cutAfterUpstreamBytes(20 * MiB); // mid-way through the third 8 MiB PATCH
    // Deno's fetch re-sends a request once, on a new connection, when the reused keep-alive
    // connection under it dies, so a single cut may never reach the client (the re-sent PATCH is
    // then accepted, or gets a 409). Cut that re-send too, 1 MiB in, so a network error does.
    const rearmed = proxy.cut.then(() => proxy.cutAfterUpstreamBytes(MiB));

    const run = await client([
      "upload",
      file,
      "--endpoint",
      `${proxy.origin}/files`,
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ]);
    await withDeadline(rearmed, 1000, "the proxy to have cut the connection");
    await withDeadline(proxy.cut, 1000, "the proxy to have cut the re-sent request");
    assertExit(run, 0);
    const events = eventsOf(run);
    const retry = events.findIndex((e) => e.type === "retry");
    assert.ok(retry >= 0, `expected a retry event\n${describeRun(run)}`);
    assert.equal(only(events, "created").length, 1);
    assert.equal(only(events, "restarted").length, 0, "the upload was resumed, not restarted");
    const before = only(events.slice(0, retry), "progress").at(-1)?.acknowledged ?? 0;
    const after = only(events.slice(retry), "progress")[0]?.acknowledged ?? 0;
    assert.ok(before >= 16 * MiB, `acknowledged before the cut: ${before}`);
    assert.ok(after >= before, `resumed at ${after}, below the ${before} bytes acknowledged`);
    const completed = completedEvent(run);
    assert.equal(completed.md5, source.md5);
    assert.equal(completed.sha256, source.sha256);
    assert.equal(completed.verified, "digest");
    // Resumed from the server's offset: besides the file, at most the chunk the first cut hit
    // (8 MiB), the cut re-send (1 MiB) and headers went up.
    assert.ok(
      proxy.upstreamBytes <= size + 9 * MiB + 64 * 1024,
      `${proxy.upstreamBytes} bytes went upstream for a ${size}-byte file`,
    );
    const id = idOf(completed.url);
    assert.equal(await serverOffset(server, id), size);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "a 503 with Retry-After makes the client wait at least that long, ask HEAD and continue to the right MD5",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const file = `${work.path}/unavailable.bin`;
    const size = 16 * MiB;
    const source = await generate(file, size, 14);
    let injected = false;
    await using recorder = HttpRecorder.start({
      target: server.origin,
      beforeForward: (request) => {
        if (request.method !== "PATCH" || request.uploadOffset !== 8 * MiB || injected) return;
        injected = true;
        return new Response("busy\n", { status: 503, headers: { "Retry-After": "1" } });
      },
    });
    const run = await client([
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ]);
    assertExit(run, 0);
    assert.ok(injected, "the client never sent a PATCH at 8 MiB");
    const events = eventsOf(run);
    const retries = only(events, "retry");
    assert.equal(retries.length, 1, describeRun(run));
    assert.ok(
      retries[0]!.delayMs >= 1000,
      `waited ${retries[0]!.delayMs} ms despite Retry-After: 1`,
    );
    assert.match(retries[0]!.reason, /503/);
    assert.equal(completedEvent(run).md5, source.md5);
    await recorder.settled();
    const failed = recorder.requests.find((r) => r.status === 503)!;
    const after = recorder.requests.filter((r) => r.index > failed.index);
    assert.equal(
      after[0]?.method,
      "HEAD",
      "after the 503 the client asks the server's offset first",
    );
    const patches = recorder.byMethod("PATCH").filter((p) => p.status === 204);
    assertContiguous(patches, 0);
    assert.equal(sum(patches), size);
  },
);

Deno.test(
  "a server that answers PATCH 204 without taking any bytes makes the client give up after --retries (exit 4), not loop forever",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const file = `${work.path}/ignored.bin`;
    await generate(file, MiB, 15);
    // Like a proxy that drops request bodies: every PATCH is "accepted" with the offset unchanged.
    await using recorder = HttpRecorder.start({
      target: server.origin,
      beforeForward: (request) => {
        if (request.method !== "PATCH") return;
        return new Response(null, {
          status: 204,
          headers: { "Tus-Resumable": "1.0.0", "Upload-Offset": String(request.uploadOffset) },
        });
      },
    });
    let run: ClientRun;
    try {
      run = await client(
        [
          "upload",
          file,
          "--endpoint",
          recorder.url("/files"),
          "--state-dir",
          `${work.path}/state`,
          "--retries",
          "2",
          "--json",
        ],
        10_000,
      );
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      await recorder.settled();
      assert.fail(
        `still running after 10 s, having sent ${recorder.byMethod("PATCH").length} PATCHes ` +
          `that made no progress (--retries 2)`,
      );
    }
    assertExit(run, 4);
    assertOneErrorLine(run);
    await recorder.settled();
    assert.ok(
      recorder.byMethod("PATCH").length <= 3,
      `${recorder.byMethod("PATCH").length} PATCHes for --retries 2`,
    );
  },
);

Deno.test(
  "when the remembered upload is gone (404) the client says so and starts a new upload that completes",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const file = `${work.path}/gone.bin`;
    const source = await generate(file, 16 * MiB, 16);
    const command = [
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ];
    const first = await client([...command, "--crash-after", "0.5"]);
    assertKilled(first);
    const oldUrl = only(eventsOf(first), "created")[0]?.url;
    assert.ok(oldUrl);
    const res = await fetch(oldUrl, { method: "DELETE", headers: { "Tus-Resumable": "1.0.0" } });
    await res.body?.cancel();
    assert.equal(res.status, 204);

    const second = await client(command);
    assertExit(second, 0);
    const events = eventsOf(second);
    assert.deepEqual(
      events.map((e) => e.type).filter((t) => t !== "progress"),
      ["restarted", "created", "completed"],
      describeRun(second),
    );
    const created = only(events, "created")[0]!;
    assert.notEqual(created.url, oldUrl);
    const completed = completedEvent(second);
    assert.equal(completed.url, created.url);
    assert.equal(completed.md5, source.md5);
    assert.equal((await digestsOf(server.dataPath(idOf(completed.url)))).md5, source.md5);
  },
);

// ---------------------------------------------------------------------------------------------
// The file changed between runs

for (
  const change of [
    {
      what: "one byte in the already uploaded part changed",
      apply: async (path: string) => {
        using f = await Deno.open(path, { read: true, write: true });
        await f.seek(3 * MiB + 5, Deno.SeekMode.Start);
        const one = new Uint8Array(1);
        await f.read(one);
        await f.seek(3 * MiB + 5, Deno.SeekMode.Start);
        await f.write(new Uint8Array([one[0]! ^ 0xff]));
      },
    },
    {
      what: "bytes were appended",
      apply: async (path: string) => {
        using f = await Deno.open(path, { append: true });
        await f.write(new Uint8Array(1000).fill(7));
      },
    },
  ]
) {
  Deno.test(
    `when the file was modified between runs (${change.what}), the client starts a new upload of the new content`,
    async () => {
      await using server = await startServer();
      await using work = await tempDir();
      const file = `${work.path}/changing.bin`;
      const original = await generate(file, 16 * MiB, 8);
      const command = [
        "upload",
        file,
        "--endpoint",
        server.url,
        "--state-dir",
        `${work.path}/state`,
        "--json",
      ];
      const first = await client([...command, "--crash-after", "0.5"]);
      assertKilled(first);
      const firstCreated = only(eventsOf(first), "created");
      assert.equal(firstCreated.length, 1);
      const oldUrl = firstCreated[0]!.url;

      await change.apply(file);
      const modified = await digestsOf(file);
      assert.notEqual(modified.md5, original.md5);

      const second = await client(command);
      assertExit(second, 0);
      const events = eventsOf(second);
      assert.equal(only(events, "resumed").length, 0, "the old upload must not be resumed");
      const created = only(events, "created");
      assert.equal(created.length, 1, `expected a new upload\n${describeRun(second)}`);
      assert.notEqual(created[0]!.url, oldUrl);
      const completed = completedEvent(second);
      assert.equal(completed.url, created[0]!.url);
      assert.equal(completed.md5, modified.md5);
      assert.equal(completed.size, modified.size);
      const id = idOf(completed.url);
      assert.equal((await digestsOf(server.dataPath(id))).md5, modified.md5);
    },
  );
}

for (const chunk of ["a middle chunk", "the last chunk"] as const) {
  Deno.test(
    `a file that grows while ${chunk} is being sent stops the upload with exit 6 and one error line`,
    async () => {
      await using server = await startServer();
      await using work = await tempDir();
      const file = `${work.path}/growing.bin`;
      const size = 24 * MiB; // three 8 MiB chunks
      await generate(file, size, 17);
      const at = chunk === "the last chunk" ? 16 * MiB : 8 * MiB;
      let changed = false;
      await using recorder = HttpRecorder.start({
        target: server.origin,
        beforeForward: async (request) => {
          if (request.method !== "PATCH" || request.uploadOffset !== at || changed) return;
          changed = true;
          using f = await Deno.open(file, { append: true });
          await f.write(new Uint8Array(10).fill(1));
        },
      });
      const run = await client([
        "upload",
        file,
        "--endpoint",
        recorder.url("/files"),
        "--state-dir",
        `${work.path}/state`,
      ]);
      assert.ok(changed, `the client never sent a PATCH at ${at}`);
      assertExit(run, 6);
      const line = assertOneErrorLine(run);
      assert.match(line, /changed/);
      assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Download

Deno.test(
  "client download of a completed upload writes the source bytes, and continues a partial OUT with a Range request",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/source.bin`;
    const size = 16 * MiB + 777;
    const source = await generate(file, size, 9);
    const up = await client([
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ]);
    assertExit(up, 0);
    const path = new URL(completedEvent(up).url).pathname;

    const whole = `${work.path}/whole.out`;
    const full = await client(["download", recorder.url(path), whole]);
    assertExit(full, 0);
    assert.equal((await digestsOf(whole)).md5, source.md5);
    assert.match(full.stdout, new RegExp(`MD5 ${source.md5} and SHA-256 ${source.sha256} matched`));
    await recorder.settled();
    const gets = recorder.byMethod("GET");
    assert.equal(gets.length, 1);
    assert.equal(gets[0]!.status, 200);
    assert.equal(gets[0]!.headers.get("range"), null);

    recorder.clear();
    const partial = `${work.path}/partial.out`;
    const have = 5 * MiB + 3;
    await Deno.writeFile(partial, await readRange(file, 0, have));
    const rest = await client(["download", recorder.url(path), partial]);
    assertExit(rest, 0);
    assert.equal((await digestsOf(partial)).md5, source.md5);
    await recorder.settled();
    const ranged = recorder.byMethod("GET");
    assert.equal(ranged.length, 1, "one GET continues the partial file");
    assert.equal(ranged[0]!.headers.get("range"), `bytes=${have}-`);
    assert.equal(ranged[0]!.status, 206);
    assert.equal(ranged[0]!.responseBytes, size - have, "only the missing bytes were fetched");
  },
);

// ---------------------------------------------------------------------------------------------
// Verification

/** A Repr-Digest of bytes other than the upload's: what a lying or broken server would send. */
function wrongDigest(): { header: string; md5: string; sha256: string } {
  const other = new TextEncoder().encode("not the uploaded bytes");
  const md5 = createHash("md5").update(other);
  const sha256 = createHash("sha256").update(other);
  const md5b = md5.copy().digest("base64");
  const shab = sha256.copy().digest("base64");
  return {
    header: `sha-256=:${shab}:, md5=:${md5b}:`,
    md5: md5.digest("hex"),
    sha256: sha256.digest("hex"),
  };
}

Deno.test(
  "when the server's Repr-Digest disagrees with the file, upload exits 3 and prints both digests",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const wrong = wrongDigest();
    await using recorder = HttpRecorder.start({
      target: server.origin,
      rewriteReprDigest: wrong.header,
    });
    const file = `${work.path}/lied-about.bin`;
    const source = await generate(file, 8 * MiB + 1, 10);
    const run = await client([
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
    ]);
    assertExit(run, 3);
    const line = assertOneErrorLine(run);
    for (const hex of [source.md5, source.sha256, wrong.md5, wrong.sha256]) {
      assert.ok(line.includes(hex), `the error should name ${hex}: ${line}`);
    }
    assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
    await recorder.settled();
    assert.ok(
      recorder.requests.some((r) => r.responseHeaders?.has("repr-digest")),
      "the server did send a Repr-Digest (which the recorder rewrote)",
    );
  },
);

Deno.test(
  "when the server's Repr-Digest disagrees with the downloaded bytes, download exits 3 and prints both digests",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const wrong = wrongDigest();
    await using recorder = HttpRecorder.start({
      target: server.origin,
      rewriteReprDigest: wrong.header,
    });
    const file = `${work.path}/source.bin`;
    const source = await generate(file, 4 * MiB, 11);
    const up = await client([
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ]);
    assertExit(up, 0);
    const path = new URL(completedEvent(up).url).pathname;
    const run = await client(["download", recorder.url(path), `${work.path}/out.bin`]);
    assertExit(run, 3);
    const line = assertOneErrorLine(run);
    assert.ok(line.includes(source.sha256), `the error should name the local SHA-256: ${line}`);
    assert.ok(
      line.includes(wrong.sha256) || line.includes(wrong.md5),
      `the error should name the server's digest: ${line}`,
    );
  },
);

// ---------------------------------------------------------------------------------------------
// Bad usage

interface UsageCase {
  /** The test's name. */
  name: string;
  /** The client's arguments, given the temporary directory (which holds `small.bin`). */
  args: (work: string) => string[];
  code: number;
  mentions: RegExp;
}

const USAGE_CASES: UsageCase[] = [
  {
    name: "upload of a file that does not exist",
    args: (w) => ["upload", `${w}/missing.bin`, "--endpoint", "http://127.0.0.1:9/files"],
    code: 2,
    mentions: /missing\.bin/,
  },
  {
    name: "upload of a directory",
    args: (w) => ["upload", w, "--endpoint", "http://127.0.0.1:9/files"],
    code: 2,
    mentions: /not a regular file/,
  },
  {
    name: "upload with an unknown flag",
    args: (w) => ["upload", `${w}/small.bin`, "--frobnicate"],
    code: 2,
    mentions: /--frobnicate/,
  },
  {
    name: "upload with --chunk-size lots",
    args: (w) => ["upload", `${w}/small.bin`, "--chunk-size", "lots"],
    code: 2,
    mentions: /lots/,
  },
  {
    name: "upload to an endpoint nobody listens on (after --retries 1)",
    args: (w) => [
      "upload",
      `${w}/small.bin`,
      "--endpoint",
      `http://127.0.0.1:${closedPort()}/files`,
      "--retries",
      "1",
    ],
    code: 4,
    mentions: /connection refused: is the server running at .*\? \(2 tries; nothing answered\)/,
  },
  {
    name: "download with --retries lots",
    args: (w) => [
      "download",
      `http://127.0.0.1:${closedPort()}/files/00000000000000000000000000000000`,
      `${w}/out.bin`,
      "--retries",
      "lots",
    ],
    code: 2,
    mentions: /retries/,
  },
];

for (const c of USAGE_CASES) {
  Deno.test(
    `${c.name} exits ${c.code} with one clear error line and no stack trace`,
    async () => {
      await using work = await tempDir();
      await Deno.writeFile(`${work.path}/small.bin`, new Uint8Array(1000).fill(1));
      const state = c.args(work.path)[0] === "upload" ? ["--state-dir", `${work.path}/state`] : [];
      // A usage error needs no network and no backoff: 10 s is plenty.
      const run = await client([...c.args(work.path), ...state], 10_000);
      assertExit(run, c.code);
      const line = assertOneErrorLine(run);
      assert.match(line, c.mentions);
      assert.ok(!/^(uploaded|downloaded) /m.test(run.stdout), "no success line");
    },
  );
}

Deno.test(
  "upload refused by the server (larger than its --max-size) exits 5 with the server's reason",
  async () => {
    await using server = await startServer({ maxSize: "1MiB" });
    await using work = await tempDir();
    const file = `${work.path}/too-big.bin`;
    await generate(file, 2 * MiB, 13);
    const run = await client([
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${work.path}/state`,
    ]);
    assertExit(run, 5);
    const line = assertOneErrorLine(run);
    assert.match(line, /413|maximum/);
  },
);

// ---------------------------------------------------------------------------------------------
// Status

Deno.test(
  "client status FILE and client status URL print the server's offset and percent after a crash",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    const file = `${work.path}/status.bin`;
    const size = 16 * MiB;
    await generate(file, size, 12);
    const state = `${work.path}/state`;
    const first = await client([
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      state,
      "--json",
      "--crash-after",
      "0.5",
    ]);
    assertKilled(first);
    const url = only(eventsOf(first), "created")[0]?.url;
    assert.ok(url, "the crashed run created an upload");
    const offset = await serverOffset(server, idOf(url));
    assert.ok(offset > 0 && offset < size, `offset ${offset}`);
    const percent = ((offset / size) * 100).toFixed(1);
    // The bytes arrived within the last minute: the server reports a rate, and so an ETA.
    const expected = new RegExp(
      `^${url.replace(/[.?*+^$()[\]{}|\\]/g, "\\$&")}: ${offset} of ${size} bytes \\(${
        percent.replace(".", "\\.")
      }%\\), uploading, [\\d.]+ (B|KiB|MiB|GiB)/s, about \\d+ s left$`,
    );

    const byFile = await client(["status", file, "--endpoint", server.url, "--state-dir", state]);
    assertExit(byFile, 0);
    assert.match(lines(byFile.stdout).at(-1) ?? "", expected);

    const byUrl = await client(["status", url]);
    assertExit(byUrl, 0);
    assert.match(lines(byUrl.stdout).at(-1) ?? "", expected);

    const json = await client(["status", url, "--json"]);
    assertExit(json, 0);
    const reported = JSON.parse(lines(json.stdout).at(-1) ?? "null");
    assert.ok(reported.bytesPerSecond > 0 && Number.isInteger(reported.eta), json.stdout);
    assert.deepEqual({ ...reported, bytesPerSecond: 0, eta: 0 }, {
      url,
      offset,
      length: size,
      percent: (offset / size) * 100,
      state: "uploading",
      bytesPerSecond: 0,
      eta: 0,
    });

    // Once finished, the file is no longer remembered.
    assertExit(await client(["upload", file, "--endpoint", server.url, "--state-dir", state]), 0);
    const after = await client(["status", file, "--endpoint", server.url, "--state-dir", state]);
    assertExit(after, 1);
    assert.match(after.stderr, /no unfinished upload/);
  },
);
