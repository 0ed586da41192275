/**
 * End-to-end configuration: `main.ts server` reads RESUMABLE_* variables and a `--config` JSON file
 * under its flags (flag > env > file > default), `--print-config` shows the result with secrets
 * redacted, and a bad value anywhere is one `error: …` line on stderr and exit code 2.
 */

import assert from "node:assert/strict";
import { runMain, startServer } from "./helpers/server.ts";

const SECRET = "correct-horse-battery-staple";
const DB_PASSWORD = "pg-pass-4f9a";

/** Writes `data` as JSON into a fresh temporary directory; disposal removes the directory. */
async function configFile(data: unknown): Promise<AsyncDisposable & { path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "resumable-config-" });
  const path = `${dir}/config.json`;
  await Deno.writeTextFile(path, JSON.stringify(data));
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** `text` as a literal inside a RegExp. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("server --print-config prints a config file of flags over env over the file, secrets left out, and exits", async () => {
  await using file = await configFile({
    port: 8080,
    "max-size": "1GiB",
    expire: "1h",
    "no-ui": true,
    "hook-url": ["http://hooks.example/a", "http://hooks.example/b?token=hook-token-77"],
    db: `postgres://app:${DB_PASSWORD}@db.internal/uploads`,
  });
  const { code, stdout, stderr } = await runMain(
    ["server", "--config", file.path, "--expire", "5m", "--print-config"],
    15_000,
    {
      RESUMABLE_PORT: "9999",
      RESUMABLE_EXPIRE: "2h",
      RESUMABLE_AUTH_SECRET: SECRET,
      RESUMABLE_CORS_ORIGINS: "https://a.example,https://b.example",
    },
  );
  assert.equal(code, 0, stderr);
  const printed = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(printed.port, "9999", "env beats the file");
  assert.equal(printed.expire, "5m", "the flag beats env and file");
  assert.equal(printed["max-size"], "1GiB", "the file beats the default");
  assert.equal(printed["no-ui"], true);
  assert.equal(printed["cors-origins"], "https://a.example,https://b.example");
  assert.equal(printed.host, "127.0.0.1", "default");
  for (const secret of ["auth-secret", "db", "hook-url"]) {
    assert.ok(!(secret in printed), `${secret} holds a secret: left out of the file`);
  }
  for (const secret of [SECRET, DB_PASSWORD, "hook-token-77"]) {
    assert.ok(
      !stdout.includes(secret) && !stderr.includes(secret),
      `${secret} must not be printed`,
    );
  }
  // Where each value came from, on stderr; the secrets left out are named there, redacted.
  assert.match(stderr, /^ {2}expire +flag --expire$/m);
  assert.match(stderr, /^ {2}port +env RESUMABLE_PORT$/m);
  assert.match(stderr, /^ {2}auth-secret +env RESUMABLE_AUTH_SECRET; left out of the file/m);
  assert.match(
    stderr,
    /^ {2}db +file [^;]+; left out of the file: it holds a secret \("postgres:\/\/app:\[redacted\]@db\.internal\/uploads"\)$/m,
  );
  assert.match(stderr, new RegExp(`^ {2}max-size +file ${escape(file.path)}$`, "m"));
  assert.match(stderr, /^ {2}host +default$/m);
});

Deno.test("server --print-config output, saved as a file, is read back by --config to the same settings", async () => {
  const args = ["--port", "0", "--max-size", "10GiB", "--expire", "90m", "--no-ui"];
  const first = await runMain(
    ["server", ...args, "--hook-url", "http://h.example/e", "--print-config"],
    15_000,
    {
      RESUMABLE_CORS_ORIGINS: "https://a.example",
    },
  );
  assert.equal(first.code, 0, first.stderr);
  await using file = await configFile("placeholder");
  await Deno.writeTextFile(file.path, first.stdout);
  const again = await runMain(["server", "--config", file.path, "--print-config"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), JSON.parse(first.stdout));
  assert.match(again.stderr, new RegExp(`^ {2}max-size +file ${escape(file.path)}$`, "m"));
  // And a real server starts from it.
  await using server = await startServer({ args: ["--config", file.path] });
  const options = await fetch(server.url, {
    method: "OPTIONS",
    headers: { "Tus-Resumable": "1.0.0" },
  });
  await options.body?.cancel();
  assert.equal(options.headers.get("Tus-Max-Size"), String(10 * 2 ** 30));
  const page = await fetch(`${server.origin}/`);
  await page.body?.cancel();
  assert.equal(page.status, 404, "no-ui from the file");
});

Deno.test("a real server takes settings from RESUMABLE_* and --config, under its flags", async () => {
  await using file = await configFile({ "max-size": 5, "cors-origins": ["https://a.example"] });
  await using server = await startServer({
    // startServer passes --port 0: the flag must win over this unusable port.
    args: ["--config", file.path],
    env: { RESUMABLE_PORT: "1", RESUMABLE_BASE_PATH: "/env-up", RESUMABLE_MAX_SIZE: "100" },
  });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/env-up$/);
  assert.notEqual(server.port, 1);

  // --max-size from env (100) beats the file's 5.
  const options = await fetch(server.url, {
    method: "OPTIONS",
    headers: { "Tus-Resumable": "1.0.0", Origin: "https://a.example" },
  });
  await options.body?.cancel();
  assert.equal(options.headers.get("Tus-Max-Size"), "100");
  // --cors-origins from the file.
  assert.equal(options.headers.get("Access-Control-Allow-Origin"), "https://a.example");
  const other = await fetch(server.url, {
    method: "OPTIONS",
    headers: { "Tus-Resumable": "1.0.0", Origin: "https://b.example" },
  });
  await other.body?.cancel();
  assert.equal(other.headers.get("Access-Control-Allow-Origin"), null);

  const tooBig = await fetch(server.url, {
    method: "POST",
    headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "101" },
  });
  await tooBig.body?.cancel();
  assert.equal(tooBig.status, 413);
  const fits = await fetch(server.url, {
    method: "POST",
    headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "100" },
  });
  await fits.body?.cancel();
  assert.equal(fits.status, 201);
  assert.match(fits.headers.get("Location") ?? "", /\/env-up\/[^/]+$/);
});

Deno.test("a bad setting from a flag, env or the file is one error line and exit code 2", async () => {
  await using badJson = await configFile("placeholder");
  await Deno.writeTextFile(badJson.path, '{"port": 80,');
  await using badKey = await configFile({ "max_size": "1GiB" });
  await using badValue = await configFile({ "hook-timeout": 0 });
  const cases: { args: string[]; env?: Record<string, string>; line: RegExp }[] = [
    {
      args: [],
      env: { RESUMABLE_MAX_ACTIVE: "lots" },
      line:
        /^error: RESUMABLE_MAX_ACTIVE=lots: Invalid number "lots": expected a whole number ≥ 1$/,
    },
    {
      args: [],
      env: { RESUMABLE_NO_UI: "maybe" },
      line: /^error: RESUMABLE_NO_UI=maybe: Expected true, false, 1 or 0$/,
    },
    {
      args: [],
      env: { RESUMABLE_AUTH_SECRET: "short" },
      line: /^error: RESUMABLE_AUTH_SECRET: The auth secret must be at least 16 characters$/,
    },
    { args: ["--port", "99999"], line: /^error: --port: Invalid port "99999"/ },
    {
      args: ["--frobnicate"],
      line: /^error: unknown flag --frobnicate \(see resumable server --help\)$/,
    },
    {
      args: ["--config", badJson.path],
      line: new RegExp(`^error: ${escape(badJson.path)}: Invalid JSON: `),
    },
    {
      args: ["--config", badKey.path],
      line: new RegExp(
        `^error: ${escape(badKey.path)}: Unknown key "max_size"; did you mean "max-size"\\?`,
      ),
    },
    {
      args: ["--config", badValue.path],
      line: new RegExp(`^error: ${escape(badValue.path)}: "hook-timeout": Must be more than 0$`),
    },
    {
      args: ["--config", `${badKey.path}.missing`],
      line: /^error: Cannot read --config ".*\.missing": /,
    },
  ];
  for (const { args, env, line } of cases) {
    const what = `server ${args.join(" ")} ${JSON.stringify(env ?? {})}`;
    const result = await runMain(["server", "--port", "0", ...args], 15_000, env ?? {});
    assert.equal(result.code, 2, `${what}: ${result.stderr}`);
    assert.equal(result.stdout, "", `${what} must not start`);
    const lines = result.stderr.split("\n");
    assert.equal(
      lines.length,
      2,
      `${what}: exactly one line, got ${JSON.stringify(result.stderr)}`,
    );
    assert.equal(lines[1], "");
    assert.match(lines[0]!, line, what);
  }
});
