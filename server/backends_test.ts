import assert from "node:assert/strict";
import { s3Credentials } from "./backends.ts";
import { parseServerArgs } from "./config.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("S3 credentials come from the endpoint's userinfo, else from AWS_* variables", () => {
  assert.deepEqual(
    s3Credentials("http://key%3Aid:s%40cret@127.0.0.1:8080/", env({ AWS_ACCESS_KEY_ID: "other" })),
    { endpoint: "http://127.0.0.1:8080", accessKeyId: "key:id", secretAccessKey: "s@cret" },
  );
  assert.deepEqual(
    s3Credentials(
      "https://s3.example",
      env({ AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "shh" }),
    ),
    { endpoint: "https://s3.example", accessKeyId: "AKIA", secretAccessKey: "shh" },
  );
});

Deno.test("missing S3 credentials are refused with what to set", () => {
  assert.throws(
    () => s3Credentials("https://s3.example", env({ AWS_ACCESS_KEY_ID: "AKIA" })),
    (e) => e instanceof RangeError && /AWS_SECRET_ACCESS_KEY/.test(e.message),
  );
});

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
