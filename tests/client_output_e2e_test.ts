/**
 * What the client CLI tells people, from a real child process: progress that moves with the bytes
 * sent (before the server acknowledges a chunk), Ctrl-C that says where it stopped and how to go
 * on, `status` that knows a finished upload and shows no speed for an upload nobody is sending,
 * refusals in plain words, and every line within 80 columns when the output is not a terminal.
 */

import assert from "node:assert/strict";
import {
  assertExit,
  type ClientEvent,
  type ClientRun,
  describeRun,
  eventsOf,
  idOf,
  lines,
  runClient,
  runClientInTerminal,
  startClient,
} from "./helpers/client_cli.ts";
import { ClientFixture, MiB } from "./helpers/client_runs.ts";
import { waitFor } from "./helpers/wait.ts";

const WIDTH = 80;
/** The terminal sequence that erases from the cursor to the end of the line. */
const ERASE_LINE = "\x1b[K";

type Progress = Extract<ClientEvent, { type: "progress" }>;

function progressOf(run: ClientRun): Progress[] {
  return eventsOf(run).filter((e): e is Progress => e.type === "progress");
}

/** Every line a run printed fits the width a non-terminal gets. */
function assertFits(run: ClientRun): void {
  for (const line of [...lines(run.stdout), ...lines(run.stderr)]) {
    assert.ok(
      line.length <= WIDTH,
      `a line of ${line.length} > ${WIDTH}: ${line}\n${describeRun(run)}`,
    );
  }
}

Deno.test(
  "on a slow link, progress shows bytes sent growing before the first chunk is acknowledged",
  async () => {
    await using fx = await ClientFixture.start();
    fx.proxy({ upstreamBytesPerSecond: 8 * MiB });
    const size = 16 * MiB;
    const { path: file } = await fx.generate("slow.bin", size, 1);
    const run = await runClient(fx.upload(file, "--chunk-size", "16MiB", "--json"), 60_000);
    assertExit(run, 0);
    const progress = progressOf(run);
    const before = progress.filter((e) => e.acknowledged === 0).map((e) => e.sent);
    assert.ok(
      new Set(before.filter((sent) => sent > 0 && sent < size)).size >= 3,
      `sent should grow in steps while nothing is acknowledged, got ${before}`,
    );
    for (let i = 1; i < before.length; i++) {
      assert.ok(before[i]! >= before[i - 1]!, `sent went back: ${before}`);
    }
    assert.deepEqual(progress.at(-1), {
      type: "progress",
      acknowledged: size,
      sent: size,
      total: size,
    });
  },
);

Deno.test(
  "Ctrl-C mid-upload says where it stopped (exit 130), the same command resumes, status tells all",
  async () => {
    await using fx = await ClientFixture.start();
    fx.proxy({ upstreamBytesPerSecond: 2 * MiB });
    const source = await fx.generate("big.bin", 32 * MiB, 2);
    const file = source.path;
    const command = fx.upload(file, "--chunk-size", "1MiB");

    await using live = startClient([...command, "--json"]);
    const created = await live.line((l) => l.includes('"created"'));
    const url = (JSON.parse(created) as { url: string }).url;
    await live.line((l) => /"acknowledged":[1-9]/.test(l));
    // While it is being sent, status shows the speed and the time left.
    const busy = await runClient(["status", url]);
    assertExit(busy, 0);
    assert.match(
      busy.stdout,
      /uploading: .*, \d+\.\d+ (KiB|MiB)\/s, about (\d+ min )?\d+ s left\n$/,
    );
    live.kill("SIGINT");
    const interrupted = await live.done();
    assertExit(interrupted, 130);
    const said = lines(interrupted.stderr).at(-1) ?? "";
    assert.match(
      said,
      /^interrupted at \d+(\.\d+)? (B|KiB|MiB) of 32\.0 MiB; run the same command to resume$/,
      describeRun(interrupted),
    );

    // Nobody is sending it now: status shows where it stands, and no speed or time left (once
    // the server's last bytes are older than what it counts as sending).
    await waitFor(async () => {
      const res = await fetch(`${fx.server.origin}/files/${idOf(url)}/status`);
      return (await res.json()).bytesPerSecond === null;
    }, { timeoutMs: 20_000, message: "the server to see nobody sending" });
    const idle = await runClient(["status", file, ...fx.flags]);
    assertExit(idle, 0);
    assert.match(idle.stdout, /uploading: .* of 32\.0 MiB \(\d+\.\d%\), nobody is sending it now/);
    assert.doesNotMatch(idle.stdout, /\/s|left/);
    assertFits(idle);

    const resumed = await runClient(command, 60_000);
    assertExit(resumed, 0);
    assert.match(resumed.stderr, /^resuming /m);
    assert.match(resumed.stdout, new RegExp(`^MD5 ${source.md5} matched$`, "m"));
    assertFits(resumed);

    // Finished: status says so, with the URL, and exits 0.
    const done = await runClient(["status", file, ...fx.flags]);
    assertExit(done, 0);
    assert.match(
      done.stdout.replace(/\n +/g, " "),
      /^finished: \S+big\.bin \(32\.0 MiB\), on \d{4}-\d\d-\d\dT\S+Z\n/,
    );
    assert.equal(lines(done.stdout).at(-1), `URL ${url}`, describeRun(done));
    assertFits(done);
  },
);

Deno.test(
  "the success lines, status and refusals fit 80 columns and say in words what happened",
  async () => {
    await using fx = await ClientFixture.start();
    const { path: file } = await fx.generate("small.bin", 100_000, 3);
    const uploaded = await runClient(fx.upload(file));
    assertExit(uploaded, 0);
    assertFits(uploaded);
    const [first, url, md5, sha256] = lines(uploaded.stdout);
    assert.equal(first, "uploaded 97.7 KiB");
    assert.match(url ?? "", /^URL http:\S+$/);
    assert.match(md5 ?? "", /^MD5 [0-9a-f]{32} matched$/);
    assert.match(sha256 ?? "", /^SHA-256 [0-9a-f]{64} matched$/);

    // An upload the server doesn't have: one plain line, no "HEAD … answered 404".
    const missing = `${fx.server.url}/${"0".repeat(32)}`;
    const gone = await runClient(["status", missing]);
    assertExit(gone, 1);
    assertFits(gone);
    assert.equal(gone.stdout, "");
    assert.match(
      gone.stderr.replace(/\n +/g, " "),
      /^error: the server has no upload at .*; upload the file again\n$/,
    );
    assert.doesNotMatch(gone.stderr, /HEAD|answered/);

    // A download of an unfinished upload: the server's message, not its JSON.
    const res = await fetch(fx.server.url, {
      method: "POST",
      headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "10" },
    });
    await res.body?.cancel();
    const partial = new URL(res.headers.get("location")!, fx.server.url).href;
    const refused = await runClient(["download", partial, fx.path("out.bin")]);
    assertExit(refused, 1);
    assertFits(refused);
    const text = refused.stderr.replace(/\n +/g, " ");
    assert.match(
      text,
      /not complete yet \(the server said: Upload [0-9a-f]+ is incomplete: 0 of 10 bytes stored\); finish it/,
    );
    assert.doesNotMatch(text, /[{}]|GET 409/);
  },
);

Deno.test(
  "on a terminal, the progress line shows sent ahead of saved, within the width, then is erased",
  async () => {
    await using fx = await ClientFixture.start();
    fx.proxy({ upstreamBytesPerSecond: 8 * MiB });
    const { path: file } = await fx.generate("tty.bin", 16 * MiB, 4);
    const columns = 100;
    const run = await runClientInTerminal(fx.upload(file, "--chunk-size", "16MiB"), columns);
    assertExit(run, 0);
    // Each redraw starts with a carriage return and ends by erasing the rest of the line.
    const frames = run.stdout.split("\r").map((f) =>
      f.replaceAll(ERASE_LINE, "").replace(/\n.*/s, "")
    )
      .filter((f) => f.startsWith("["));
    const PROGRESS = /^\[[#=.]+\] \d+% sent ([\d.]+ (?:B|KiB|MiB)) of 16\.0 MiB, saved ([^,]+)/;
    const unsaved = frames.flatMap((f) => {
      const m = PROGRESS.exec(f);
      return m && m[2] === "0 B" ? [m[1]!] : [];
    });
    assert.ok(new Set(unsaved).size >= 3, `sent should move before anything is saved: ${frames}`);
    assert.ok(frames.some((f) => f.includes("=")), "a bar with sent-not-saved cells");
    for (const f of frames) assert.ok(f.length < columns, `a frame of ${f.length}: ${f}`);
    // The line is erased before the result: the success lines start at the left margin.
    assert.ok(run.stdout.includes(`\r${ERASE_LINE}uploaded 16.0 MiB`), describeRun(run));
  },
);
