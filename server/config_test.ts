import assert from "node:assert/strict";
import { parseServerArgs } from "./config.ts";

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
