import assert from "node:assert/strict";
import { parseServerArgs } from "./config/config.ts";

Deno.test("--store s3 needs --db; --db alone (the file store) is fine", () => {
  const s3 = ["--store", "s3", "--s3-endpoint", "http://127.0.0.1:8080", "--s3-bucket", "b"];
  assert.throws(
    () => parseServerArgs(s3),
    (e) => e instanceof RangeError && /--db/.test(e.message),
  );
  const config = parseServerArgs([...s3, "--db", "postgres://u@db/x"]);
  assert.ok(config !== "help");
  assert.equal(config.store, "s3");
  const shared = parseServerArgs(["--db", "postgres://u@db/x"]);
  assert.ok(shared !== "help");
  assert.equal(shared.store, "file");
});
