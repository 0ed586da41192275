import assert from "node:assert/strict";
import { COMMAND_OPTIONS, SERVER_OPTIONS } from "./flags.ts";
import { envName } from "./config_sources.ts";
import { SERVER_USAGE, withFlagsTable } from "./usage.ts";
import { SERVER_DOC } from "../write_docs.ts";

Deno.test("the committed flags table in docs/server.md is the one the flag definitions give (deno task docs)", async () => {
  const committed = await Deno.readTextFile(SERVER_DOC);
  assert.equal(committed, withFlagsTable(committed), "docs/server.md is stale: run deno task docs");
  for (const name of Object.keys(SERVER_OPTIONS)) {
    assert.match(committed, new RegExp(`^\\| \`--${name}[ \`].*\\| \`${envName(name)}\` \\|`, "m"));
  }
});

Deno.test("--help lists every flag with its placeholder and default, within 100 columns", () => {
  const options = { ...SERVER_OPTIONS, ...COMMAND_OPTIONS } as Record<
    string,
    { arg?: string; default?: unknown }
  >;
  for (const [name, spec] of Object.entries(options)) {
    const flag = `--${name}${spec.arg ? ` ${spec.arg}` : ""}`;
    const at = SERVER_USAGE.search(
      new RegExp(`${flag.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\s`),
    );
    assert.ok(at >= 0, `${flag} is in --help`);
    if (typeof spec.default === "string" && spec.default !== "") {
      const entry = SERVER_USAGE.slice(at).split(/\n {2}-/)[0]!.replace(/\s+/g, " ");
      assert.ok(entry.includes(`(default ${spec.default})`), `${flag}: ${entry}`);
    }
  }
  for (const line of SERVER_USAGE.split("\n")) assert.ok(line.length <= 100, line);
});
