import assert from "node:assert/strict";
import { resolveServerCommand } from "./config.ts";
import { SERVER_OPTIONS } from "./flags.ts";
import { printConfig } from "./print_config.ts";

function printed(args: string[], env: Record<string, string> = {}, files = {}) {
  const command = resolveServerCommand(
    [...args, "--print-config"],
    env,
    (path) => (files as Record<string, string>)[path] ?? "",
  );
  assert.ok(command.action === "print");
  return printConfig(SERVER_OPTIONS, command.values, command.sources);
}

Deno.test("--print-config output is a --config file that gives the same settings back", () => {
  const first = printed([
    "--max-size",
    "10GiB",
    "--expire",
    "90m",
    "--no-ui",
    "--hook-url",
    "http://h/x",
  ], {
    RESUMABLE_CORS_ORIGINS: "https://a.example",
  });
  const file = JSON.parse(first.file);
  assert.equal(file["max-size"], "10GiB");
  assert.equal(file["no-ui"], true);
  assert.deepEqual(file["hook-url"], ["http://h/x"]);
  const again = printed(["--config", "c.json"], {}, { "c.json": first.file });
  assert.equal(again.file, first.file);
  assert.match(again.notes, /^ {2}max-size +file c\.json$/m);
});

Deno.test("--print-config leaves secrets out of the file and names them, redacted, in the notes", () => {
  const { file, notes } = printed(["--on-finish", "notify --token abc"], {
    RESUMABLE_AUTH_SECRET: "0123456789abcdef-secret",
    RESUMABLE_DB: "postgres://app:pw-123@db/x",
  });
  const values = JSON.parse(file);
  for (const key of ["auth-secret", "db", "on-finish"]) assert.ok(!(key in values), key);
  assert.ok(!file.includes("pw-123") && !notes.includes("pw-123"));
  assert.ok(!notes.includes("0123456789abcdef") && !notes.includes("abc"));
  assert.match(notes, /^ {2}db +env RESUMABLE_DB; left out of the file: it holds a secret/m);
});
