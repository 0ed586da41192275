/** The client CLI's bad usage (every exit code, one clear error line) and `status`. */
import assert from "node:assert/strict";
import { assertExit, assertOneErrorLine, lines, tempDir } from "./helpers/client_cli.ts";
import { closedPort } from "./helpers/tcp_server.ts";
import { formatBytes } from "../lib/units.ts";
import { waitFor } from "./helpers/wait.ts";
import { client, ClientFixture, MiB, serverOffset } from "./helpers/client_runs.ts";

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
    name: "upload with a mistyped flag",
    args: (w) => ["upload", `${w}/small.bin`, "--chunksize", "1MiB"],
    code: 2,
    mentions: /^error: unknown flag --chunksize: did you mean --chunk-size\?$/,
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
    await using fx = await ClientFixture.start({ server: { maxSize: "1MiB" } });
    const { path: file } = await fx.generate("too-big.bin", 2 * MiB, 13);
    const run = await client(fx.upload(file));
    assertExit(run, 5);
    const line = assertOneErrorLine(run);
    assert.match(line, /413|maximum/);
  },
);

Deno.test(
  "client status FILE and client status URL print the server's offset and percent after a crash",
  async () => {
    await using fx = await ClientFixture.start();
    const size = 16 * MiB;
    const { path: file } = await fx.generate("status.bin", size, 12);
    const { url, id } = await fx.crash(fx.upload(file, "--json"), "0.5");
    const offset = await serverOffset(fx.server, id);
    assert.ok(offset > 0 && offset < size, `offset ${offset}`);
    const percent = ((offset / size) * 100).toFixed(1);
    // The client is dead: once the server's last bytes are older than what it counts as sending,
    // it reports no rate, and status no speed and no time left.
    await waitFor(async () => {
      const res = await fetch(`${fx.server.origin}/files/${id}/status`);
      return (await res.json()).bytesPerSecond === null;
    }, { timeoutMs: 20_000, message: "the server to see nobody sending" });
    const expected = `${url}\n  uploading: ${formatBytes(offset)} of 16.0 MiB (${percent}%), ` +
      `nobody is sending it now\n`;

    const byFile = await client(["status", file, ...fx.flags]);
    assertExit(byFile, 0);
    assert.equal(byFile.stdout, expected);

    const byUrl = await client(["status", url]);
    assertExit(byUrl, 0);
    assert.equal(byUrl.stdout, expected);

    const json = await client(["status", url, "--json"]);
    assertExit(json, 0);
    assert.deepEqual(JSON.parse(lines(json.stdout).at(-1) ?? "null"), {
      url,
      offset,
      length: size,
      percent: (offset / size) * 100,
      state: "uploading",
    });

    // Once finished, status says so (exit 0), with the URL.
    await fx.complete(fx.upload(file));
    const after = await client(["status", file, ...fx.flags]);
    assertExit(after, 0);
    assert.match(after.stdout, /^finished: /);
    assert.equal(lines(after.stdout).at(-1), `URL ${url}`);
  },
);

Deno.test("a mistyped flag is one line on stderr, without the whole usage", async () => {
  const run = await client(["download", "http://127.0.0.1:9/files/x", "--outptu", "f"], 10_000);
  assertExit(run, 2);
  assert.equal(run.stderr, "error: unknown flag --outptu (client --help lists them)\n");
});

Deno.test("`client <command> --help` prints the usage and exits 0", async () => {
  for (const command of ["upload", "status", "download", "generate"]) {
    const run = await client([command, "--help"], 10_000);
    assertExit(run, 0);
    assert.match(run.stdout, /^Usage: resumable client <command>/, command);
    assert.equal(run.stderr, "", command);
  }
});
