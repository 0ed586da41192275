/** End-to-end command line: version, help, and usage errors with exit code 2. */

import assert from "node:assert/strict";
import { runMain } from "./helpers/server.ts";

const denoJson = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
) as { version: string };

Deno.test("main.ts --version prints the version from deno.json", async () => {
  for (const flag of ["--version", "-V"]) {
    const { code, stdout, stderr } = await runMain([flag]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `${denoJson.version}\n`);
  }
});

Deno.test("main.ts --help and server --help print usage and exit 0", async () => {
  const top = await runMain(["--help"]);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /Usage:/);
  const server = await runMain(["server", "--help"]);
  assert.equal(server.code, 0, server.stderr);
  assert.match(server.stdout, /Usage: resumable server/);
  assert.match(server.stdout, /--dir/);
});

Deno.test("an unknown or missing subcommand prints usage to stderr and exits 2", async () => {
  for (const args of [["frobnicate"], []]) {
    const { code, stdout, stderr } = await runMain(args);
    assert.equal(code, 2, `main.ts ${args.join(" ")}`);
    assert.equal(stdout, "");
    assert.match(stderr, /Usage:/);
  }
});

Deno.test("an unknown or invalid server flag prints one error line to stderr and exits 2", async () => {
  for (const args of [["--frobnicate"], ["--port", "99999"], ["--expire", "soon"], ["extra"]]) {
    const { code, stdout, stderr } = await runMain(["server", ...args]);
    assert.equal(code, 2, `server ${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "", `server ${args.join(" ")} must not start listening`);
    assert.match(stderr, /^error: [^\n]+\n$/, `server ${args.join(" ")}: one line`);
  }
  const unknown = await runMain(["server", "--frobnicate"]);
  assert.match(unknown.stderr, /\(see resumable server --help\)$/m);
});
