/** End-to-end command line: version, help, and usage errors with exit code 2. */

import assert from "node:assert/strict";
import { runMain } from "./helpers/server.ts";
import { SERVER_USAGE } from "../server/config/usage.ts";

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
  assert.equal(server.stdout, `${SERVER_USAGE}\n`, "the usage rendered from the flag definitions");
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

Deno.test("a mistyped server flag is one line naming the closest flag, exit 2", async () => {
  const typo = await runMain(["server", "--prot", "8080"]);
  assert.equal(typo.code, 2);
  assert.equal(typo.stdout, "");
  assert.equal(
    typo.stderr,
    "error: unknown flag --prot: did you mean --port? (see resumable server --help)\n",
  );
  const missing = await runMain(["server", "--port"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: --port needs a value: --port PORT [^\n]*\n$/);
  const switched = await runMain(["server", "--no-ui=1"]);
  assert.equal(switched.code, 2);
  assert.match(switched.stderr, /^error: --no-ui is a switch and takes no value [^\n]*\n$/);
});

Deno.test("a --dir the server may not write is one plain line, exit 2, nothing listening", async () => {
  for (const dir of ["/proc/nope", "/dev/null/uploads"]) {
    const { code, stdout, stderr } = await runMain(["server", "--port", "0", "--dir", dir]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(
      stderr,
      new RegExp(
        `^error: --dir ${dir}: can't write there \\([^)\\n]+\\); pick a directory [^\\n]*\\n$`,
      ),
    );
    assert.doesNotMatch(stderr, /--allow-all|Requires|os error/);
  }
});
