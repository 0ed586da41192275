import assert from "node:assert/strict";
import { defaultConfig, parseServerArgs, resolveServerCommand, SERVER_ENV_VARS } from "./config.ts";
import { envName } from "./config_sources.ts";
import { redactConfig, REDACTED, redactUrl, redactUrls } from "./config_redact.ts";

Deno.test("server flags have the documented defaults", () => {
  const config = parseServerArgs([]);
  assert.ok(config !== "help");
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 1080);
  assert.equal(config.dir, "./uploads");
  assert.equal(config.basePath, "/files");
  assert.equal(config.maxSize, undefined);
  assert.equal(config.expireMs, 24 * 3600 * 1000);
  assert.deepEqual(config.corsOrigins, ["*"]);
});

Deno.test("server flags parse sizes, durations and lists", () => {
  const config = parseServerArgs([
    "--port=0",
    "--max-size",
    "1GiB",
    "--expire",
    "30m",
    "--base-path",
    "/up/",
    "--cors-origins",
    "https://a.example, https://b.example",
    "--behind-proxy",
  ]);
  assert.ok(config !== "help");
  assert.equal(config.port, 0);
  assert.equal(config.maxSize, 2 ** 30);
  assert.equal(config.expireMs, 30 * 60_000);
  assert.equal(config.basePath, "/up");
  assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(config.behindProxy, true);
});

Deno.test("server flags refuse unknown flags and bad values", () => {
  assert.throws(() => parseServerArgs(["--bogus"]), TypeError);
  assert.throws(() => parseServerArgs(["--port", "70000"]), RangeError);
  assert.throws(() => parseServerArgs(["--port", "-1"]), Error);
  assert.throws(() => parseServerArgs(["--max-size", "lots"]), RangeError);
  assert.throws(() => parseServerArgs(["--expire", "soon"]), RangeError);
  assert.throws(() => parseServerArgs(["--base-path", "/a b"]), RangeError);
  assert.throws(() => parseServerArgs(["extra"]), TypeError);
});

// --- Layered settings: flag > env (RESUMABLE_<FLAG>) > --config file > default ---

/** A `readFile` for `--config` that serves `files` by path (and fails like a missing file). */
function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw new Error(`No such file or directory: ${path}`);
    return text;
  };
}

/** The RangeError/TypeError message `parseServerArgs` throws for these inputs. */
function errorOf(
  args: string[],
  env: Record<string, string> = {},
  readFile = files({}),
): string {
  try {
    parseServerArgs(args, env, readFile);
  } catch (error) {
    assert.ok(error instanceof RangeError || error instanceof TypeError, String(error));
    assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`no error for ${args.join(" ")} ${JSON.stringify(env)}`);
}

Deno.test("config precedence: flag over env over file over default, per setting", () => {
  const file = JSON.stringify({ port: 3000, "max-size": "1KiB", expire: 60, "min-rate": "2KiB" });
  const command = resolveServerCommand(
    ["--port", "1000", "--config", "c.json"],
    { RESUMABLE_PORT: "2000", RESUMABLE_MAX_SIZE: "2KiB" },
    files({ "c.json": file }),
  );
  assert.ok(command.action === "run");
  const { config, sources } = command;
  assert.equal(config.port, 1000); // flag beats env and file
  assert.equal(config.maxSize, 2048); // env beats file
  assert.equal(config.expireMs, 60_000); // file (a bare number of seconds) beats the default
  assert.equal(config.minRate, 2048);
  assert.equal(config.minFree, 2 ** 30); // default
  assert.equal(sources["port"], "flag --port");
  assert.equal(sources["max-size"], "env RESUMABLE_MAX_SIZE");
  assert.equal(sources["expire"], "file c.json");
  assert.equal(sources["min-free"], "default");
});

Deno.test("config from env: every flag has RESUMABLE_<FLAG>; switches, lists and the secret", () => {
  const config = parseServerArgs([], {
    RESUMABLE_HOST: "0.0.0.0",
    RESUMABLE_BASE_PATH: "/up",
    RESUMABLE_NO_UI: "true",
    RESUMABLE_BEHIND_PROXY: "1",
    RESUMABLE_HOOK_URL: "http://a.example/h, http://b.example/h\nhttp://c.example/h",
    RESUMABLE_CORS_ORIGINS: "none",
    RESUMABLE_HOOK_QUEUE_MAX: "5",
    RESUMABLE_AUTH_SECRET: "0123456789abcdef",
    RESUMABLE_DB: "postgres://u:p@db/x",
    RESUMABLE_ENDPOINT: "http://ignored.example", // the client's variable: not a server flag
  });
  assert.ok(config !== "help");
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.basePath, "/up");
  assert.equal(config.ui, false);
  assert.equal(config.behindProxy, true);
  assert.deepEqual(config.hookUrls, [
    "http://a.example/h",
    "http://b.example/h",
    "http://c.example/h",
  ]);
  assert.deepEqual(config.corsOrigins, []);
  assert.equal(config.hookQueueMax, 5);
  assert.equal(config.authSecret, "0123456789abcdef");
  assert.equal(config.db, "postgres://u:p@db/x");
  const off = parseServerArgs([], { RESUMABLE_NO_UI: "False", RESUMABLE_BEHIND_PROXY: "0" });
  assert.ok(off !== "help");
  assert.equal(off.ui, true);
  assert.equal(off.behindProxy, false);
  // A repeatable flag given on the command line replaces the env list; it doesn't add to it.
  const flags = parseServerArgs(["--hook-url", "http://f.example/"], {
    RESUMABLE_HOOK_URL: "http://e.example/",
  });
  assert.ok(flags !== "help");
  assert.deepEqual(flags.hookUrls, ["http://f.example/"]);
});

Deno.test("config from a file: strings, numbers, booleans and arrays where they make sense", () => {
  const file = {
    "max-size": "10GiB",
    port: 8080,
    "hook-url": ["http://a.example/h", "http://b.example/h"],
    "no-ui": true,
    "behind-proxy": false,
    "cors-origins": ["https://a.example", "https://b.example"],
    "allow-types": ["image/*", "application/pdf"],
    "max-active": 3,
    "s3-part-size": 5 * 2 ** 20,
  };
  const config = parseServerArgs(
    ["--config", "/etc/r.json"],
    {},
    files({ "/etc/r.json": JSON.stringify(file) }),
  );
  assert.ok(config !== "help");
  assert.equal(config.maxSize, 10 * 2 ** 30);
  assert.equal(config.port, 8080);
  assert.deepEqual(config.hookUrls, ["http://a.example/h", "http://b.example/h"]);
  assert.equal(config.ui, false);
  assert.equal(config.behindProxy, false);
  assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.deepEqual(config.allowTypes, ["image/*", "application/pdf"]);
  assert.equal(config.maxActive, 3);
  assert.equal(config.s3PartSize, 5 * 2 ** 20);
  // One URL may be a plain string.
  const one = parseServerArgs(
    ["--config", "c.json"],
    {},
    files({ "c.json": '{"hook-url": "http://a.example/h"}' }),
  );
  assert.ok(one !== "help");
  assert.deepEqual(one.hookUrls, ["http://a.example/h"]);
});

Deno.test("config errors from flags name the flag; unknown flags are TypeErrors", () => {
  assert.equal(errorOf(["--port", "abc"]), '--port: Invalid port "abc": expected 0 to 65535');
  assert.match(errorOf(["--max-size", "lots"]), /^--max-size: Invalid size "lots"/);
  assert.equal(errorOf(["--hook-timeout", "0"]), "--hook-timeout: Must be more than 0");
  assert.match(errorOf(["--hook-url", "ftp://x"]), /^--hook-url: Invalid URL "ftp:\/\/x"/);
  assert.throws(() => parseServerArgs(["--frobnicate"]), {
    name: "TypeError",
    message: "unknown flag --frobnicate (see resumable server --help)",
  });
  assert.throws(() => parseServerArgs(["--max-activ", "3"]), {
    name: "TypeError",
    message: "unknown flag --max-activ: did you mean --max-active? (see resumable server --help)",
  });
  assert.throws(() => parseServerArgs(["--port"]), TypeError);
});

Deno.test("config errors from env say which variable and value (never a secret's value)", () => {
  assert.equal(
    errorOf([], { RESUMABLE_PORT: "abc" }),
    'RESUMABLE_PORT=abc: Invalid port "abc": expected 0 to 65535',
  );
  assert.match(
    errorOf([], { RESUMABLE_EXPIRE: "soon" }),
    /^RESUMABLE_EXPIRE=soon: Invalid duration/,
  );
  assert.equal(
    errorOf([], { RESUMABLE_NO_UI: "maybe" }),
    "RESUMABLE_NO_UI=maybe: Expected true, false, 1 or 0",
  );
  assert.match(
    errorOf([], { RESUMABLE_HOOK_URL: "http://a.example/ nope" }),
    /^RESUMABLE_HOOK_URL=/,
  );
  assert.equal(
    errorOf([], { RESUMABLE_LOG_LEVEL: "loud" }),
    'RESUMABLE_LOG_LEVEL=loud: Invalid value "loud": expected debug, info, warn, error',
  );
  const secret = errorOf([], { RESUMABLE_AUTH_SECRET: "hunter2" });
  assert.equal(secret, "RESUMABLE_AUTH_SECRET: The auth secret must be at least 16 characters");
  assert.ok(!errorOf([], { RESUMABLE_DB: "mysql://u:pw@h/x" }).includes("pw"));
  // A bad env value under a good flag is never looked at.
  const config = parseServerArgs(["--port", "1"], { RESUMABLE_PORT: "abc" });
  assert.ok(config !== "help");
  assert.equal(config.port, 1);
});

Deno.test("config errors from the file name the file and the key", () => {
  const bad = (text: string) => errorOf(["--config", "c.json"], {}, files({ "c.json": text }));
  assert.equal(bad('{"port": "abc"}'), 'c.json: "port": Invalid port "abc": expected 0 to 65535');
  assert.equal(bad('{"port": true}'), 'c.json: "port": Expected a string or a number, got true');
  assert.equal(bad('{"no-ui": "yes please"}'), 'c.json: "no-ui": Expected true, false, 1 or 0');
  assert.equal(bad('{"host": 1}'), 'c.json: "host": Expected a string, got 1');
  assert.equal(
    bad('{"hook-url": [1]}'),
    'c.json: "hook-url": Expected a string or an array of strings, got [1]',
  );
  assert.equal(bad('{"auth-secret": 12}'), 'c.json: "auth-secret": Expected a string, got number');
  assert.match(bad('{"max_size": "1GiB"}'), /^c\.json: Unknown key "max_size"/);
  assert.match(bad('{"print-config": true}'), /^c\.json: Unknown key "print-config"/);
  assert.match(bad('{"__proto__": {"port": 1}}'), /^c\.json: Unknown key "__proto__"/);
  assert.match(bad('{"port": 1,}'), /^c\.json: Invalid JSON: /);
  assert.equal(bad("[1]"), "c.json: Expected a JSON object of flag names and values");
  assert.match(
    errorOf(["--config", "missing.json"]),
    /^Cannot read --config "missing.json": No such file/,
  );
  // Without a reader (pure callers), --config is an error, not a silent no-op.
  assert.throws(() => parseServerArgs(["--config", "c.json"]), /Cannot read --config/);
});

Deno.test("--help wins over a broken config; --print-config asks to print", () => {
  assert.equal(
    parseServerArgs(["--help", "--config", "missing.json"], { RESUMABLE_PORT: "x" }),
    "help",
  );
  const command = resolveServerCommand(["--print-config"], { RESUMABLE_PORT: "0" });
  assert.ok(command.action === "print");
  assert.equal(command.config.port, 0);
  assert.equal(resolveServerCommand([]).action, "run");
});

Deno.test("the env variable of each flag is RESUMABLE_ and the flag in upper snake case", () => {
  assert.equal(envName("max-size"), "RESUMABLE_MAX_SIZE");
  assert.equal(envName("no-ui"), "RESUMABLE_NO_UI");
  assert.ok(SERVER_ENV_VARS.includes("RESUMABLE_S3_PART_SIZE"));
  assert.ok(SERVER_ENV_VARS.includes("RESUMABLE_AUTH_SECRET"));
  assert.ok(!SERVER_ENV_VARS.includes("RESUMABLE_CONFIG"));
  assert.ok(!SERVER_ENV_VARS.includes("RESUMABLE_HELP"));
});

Deno.test("redaction hides the auth secret, URL passwords and secret-like query parameters", () => {
  const config = defaultConfig({
    authSecret: "0123456789abcdef",
    db: "postgres://app:s3cr%40t@db.internal:5432/uploads?sslmode=require&password=x",
    hookUrls: ["https://hooks.example/in?token=abc&kind=upload", "http://plain.example/h"],
    s3Endpoint: "https://key:sekret@s3.example",
  });
  const shown = redactConfig(config);
  assert.equal(shown.authSecret, REDACTED);
  assert.equal(
    shown.db,
    "postgres://app:[redacted]@db.internal:5432/uploads?sslmode=require&password=[redacted]",
  );
  assert.deepEqual(shown.hookUrls, [
    "https://hooks.example/in?token=[redacted]&kind=upload",
    "http://plain.example/h",
  ]);
  assert.equal(shown.s3Endpoint, "https://key:[redacted]@s3.example");
  assert.equal(shown.port, config.port);
  assert.equal(shown.dir, config.dir);
  const text = JSON.stringify(shown);
  for (const secret of ["0123456789abcdef", "s3cr%40t", "abc&", "sekret"]) {
    assert.ok(!text.includes(secret), `${secret} leaked`);
  }
  assert.equal(config.authSecret, "0123456789abcdef", "the original is untouched");
  // A password with an unencoded "@" is still hidden up to the last "@" of the authority.
  assert.equal(redactUrl("postgres://u:p@ss@h/x"), "postgres://u:[redacted]@h/x");
  assert.equal(redactUrl("postgres://u@h/x"), "postgres://[redacted]@h/x", "a lone token goes");
  assert.equal(redactUrl("https://ghp_abc@h/x"), "https://[redacted]@h/x");
  assert.equal(redactUrl("postgres://u:p#ss@db/x"), "postgres://u:[redacted]@db/x");
  for (const leaky of ["u:p#ss@db", "u:p?ss@db", "u:pa/ss@db", "u:p#ss@db?sslmode=require"]) {
    const shown = redactUrl(`postgres://${leaky}`);
    assert.ok(!/ss@/.test(shown) && shown.includes(REDACTED), `${leaky} → ${shown}`);
  }
  // An @ in a query may be taken for user info: too much is hidden, never too little.
  assert.doesNotMatch(redactUrl("https://h.example/notify?token=t@x"), /token=t/);
  assert.equal(redactUrl("https://h/x?token=t"), "https://h/x?token=[redacted]");
  assert.equal(
    redactConfig({ onFinish: "notify --token s3cr3t" }).onFinish,
    "notify [2 argument(s) [redacted]]",
  );
  assert.equal(
    redactUrls("fetch https://u:pw@h/x failed; again http://h/?key=k"),
    "fetch https://u:[redacted]@h/x failed; again http://h/?key=[redacted]",
  );
  assert.equal(redactUrl("not a url"), "not a url");
});

Deno.test("--tls-cert and --tls-key come as a pair", () => {
  const config = parseServerArgs(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
  assert.ok(config !== "help");
  assert.equal(config.tlsCertFile, "c.pem");
  assert.equal(config.tlsKeyFile, "k.pem");
  assert.throws(() => parseServerArgs(["--tls-cert", "c.pem"]), /--tls-cert needs --tls-key/);
  assert.throws(
    () => parseServerArgs([], { RESUMABLE_TLS_KEY: "k.pem" }),
    /RESUMABLE_TLS_KEY needs --tls-cert/,
  );
});

Deno.test("--rate-limit takes N/PERIOD", () => {
  const config = parseServerArgs(["--rate-limit", "100/1h"]);
  assert.ok(config !== "help");
  assert.deepEqual(config.rateLimit, { count: 100, periodMs: 3_600_000 });
  assert.equal(defaultConfig().rateLimit, undefined);
  for (const bad of ["100", "0/1h", "x/1h", "5/0s", "5/", "5/soon"]) {
    assert.throws(() => parseServerArgs(["--rate-limit", bad]), /--rate-limit/, bad);
  }
});
