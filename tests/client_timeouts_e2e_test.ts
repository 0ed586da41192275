/**
 * The client CLI, as a child process, never waits without end and says what failed: a server
 * that accepts and never answers, a black-holing proxy mid-upload (the client cuts, resumes once
 * traffic flows again, and finishes with the right MD5), a closed port, and a wrong endpoint.
 */

import assert from "node:assert/strict";
import {
  assertExit,
  assertOneErrorLine,
  type ClientRun,
  completedEvent,
  describeRun,
  eventsOf,
  idOf,
  runClient,
  tempDir,
} from "./helpers/client_cli.ts";
import { ClientFixture, MiB } from "./helpers/client_runs.ts";
import { closedPort, drain, tcpServer } from "./helpers/tcp_server.ts";
import { waitFor, withDeadline } from "./helpers/wait.ts";

/** Deadlines short enough for a test, against a peer that never answers. */
const SHORT = ["--response-timeout", "1s", "--stall-timeout", "1s"];
/** Deadlines that a real server on a loaded machine's loopback always meets. */
const LOADED = ["--response-timeout", "2s", "--stall-timeout", "2s"];
/** No test here may take the client longer (it is SIGKILLed then, and the test fails). */
const CHILD_DEADLINE_MS = 60_000;

/** Runs the client and measures how long it took, start of the child to its exit. */
async function timed(args: string[]): Promise<{ run: ClientRun; seconds: number }> {
  const started = performance.now();
  const run = await runClient(args, CHILD_DEADLINE_MS);
  return { run, seconds: (performance.now() - started) / 1000 };
}

Deno.test(
  "against a server that accepts and never answers, upload and download exit within their deadlines, saying so",
  async () => {
    await using silent = tcpServer(drain); // accepts, reads, never answers
    await using work = await tempDir();
    const file = `${work.path}/f.bin`;
    await Deno.writeFile(file, new Uint8Array(100_000).fill(7));
    const endpoint = `${silent.origin}/files`;

    const up = await timed([
      "upload",
      file,
      "--endpoint",
      endpoint,
      "--state-dir",
      `${work.path}/state`,
      "--retries",
      "2",
      ...SHORT,
    ]);
    assertExit(up.run, 4);
    assert.match(
      assertOneErrorLine(up.run),
      /^error: no response to (OPTIONS|POST) within 1 s \(3 tries; nothing answered\)$/,
    );
    // 3 tries of 1 s and two short pauses, plus the child's start-up: well under 20 s.
    assert.ok(up.seconds < 20, `upload took ${up.seconds.toFixed(1)} s`);
    assert.ok(silent.accepted >= 1, "the client did connect");

    const down = await timed(["download", `${endpoint}/x`, `${work.path}/out.bin`, ...SHORT]);
    assertExit(down.run, 4);
    assert.match(
      assertOneErrorLine(down.run),
      /^error: no response to GET within 1 s \(3 tries; nothing answered\)$/,
    );
    assert.ok(down.seconds < 20, `download took ${down.seconds.toFixed(1)} s`);
  },
);

for (const chunk of ["1MiB", "0"]) {
  const how = chunk === "0" ? "one streamed PATCH" : `${chunk} chunks`;
  Deno.test(
    `a proxy that black-holes mid-upload (${how}): the client cuts, resumes when traffic flows, and the MD5 matches`,
    async () => {
      await using fx = await ClientFixture.start();
      const proxy = fx.proxy();
      const size = 20 * MiB; // "0": one PATCH, above the size sent in one piece, so streamed
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 13)) & 0xff);
      const source = await fx.write("stalled.bin", bytes);
      proxy.stallAfterUpstreamBytes(3 * MiB + 12_345);

      const running = runClient(
        fx.upload(source.path, "--chunk-size", chunk, "--json", ...LOADED),
        CHILD_DEADLINE_MS,
      );
      await withDeadline(proxy.stalled, 30_000, "the proxy to stall mid-upload");
      const held = proxy.connections;
      // The client gives up on the silent connection and tries again on a new one (held too).
      await waitFor(() => proxy.connections > held, {
        timeoutMs: 30_000,
        message: "the client to cut the stalled request and try again",
      });
      proxy.flow();
      const run = await running;
      assertExit(run, 0);
      const retries = eventsOf(run).filter((e) => e.type === "retry");
      assert.ok(
        retries.some((e) =>
          /no response to PATCH|PATCH made no progress sending its body/.test(String(e.reason))
        ),
        `a retry names the deadline\n${describeRun(run)}`,
      );
      const completed = completedEvent(run);
      assert.equal(completed.md5, source.md5);
      assert.equal(completed.size, size);
      await fx.assertStored(idOf(completed.url), source.md5);
    },
  );
}

Deno.test(
  "upload and download to a closed port fail within seconds with 'connection refused', not after the backoff table",
  async () => {
    await using work = await tempDir();
    const file = `${work.path}/f.bin`;
    await Deno.writeFile(file, new Uint8Array(1000).fill(1));
    const endpoint = `http://127.0.0.1:${closedPort()}/files`;

    const up = await timed(["upload", file, "--endpoint", endpoint, "--state-dir", work.path]);
    assertExit(up.run, 4);
    assert.equal(
      assertOneErrorLine(up.run),
      `error: connection refused: is the server running at ${endpoint}? ` +
        `(3 tries; nothing answered)`,
    );
    assert.ok(!/fetch failed/.test(up.run.stderr), describeRun(up.run));
    assert.ok(up.seconds < 15, `upload took ${up.seconds.toFixed(1)} s`);

    const url = `${endpoint}/00000000000000000000000000000000`;
    const down = await timed(["download", url, `${work.path}/out.bin`]);
    assertExit(down.run, 4);
    assert.equal(
      assertOneErrorLine(down.run),
      `error: connection refused: is the server running at ${url}? (3 tries; nothing answered)`,
    );
    assert.ok(down.seconds < 15, `download took ${down.seconds.toFixed(1)} s`);
  },
);

Deno.test(
  "an endpoint the server doesn't serve (404 on creation) stops at once with its message, exit 5",
  async () => {
    await using fx = await ClientFixture.start();
    const { path: file } = await fx.write("f.bin", new Uint8Array(1000).fill(2));
    const { run } = await timed([
      "upload",
      file,
      "--endpoint",
      `${fx.server.origin}/upload`,
      "--state-dir",
      fx.dir,
    ]);
    assertExit(run, 5);
    assert.equal(
      assertOneErrorLine(run),
      "error: Server refused: POST 404: Nothing at /upload; uploads live under /files",
    );
    assert.ok(!/restarting|retry/.test(run.stderr), `no retry, no restart\n${describeRun(run)}`);
  },
);
