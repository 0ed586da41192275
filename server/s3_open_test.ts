import assert from "node:assert/strict";
import { s3Credentials } from "./s3_open.ts";
import type { Credentials } from "./store/s3/s3_signer.ts";

Deno.test("S3 credentials in the endpoint's userinfo are used as they are, and taken out of it", async () => {
  assert.deepEqual(await s3Credentials("http://key%3Aid:s%40cret@127.0.0.1:8080/"), {
    endpoint: "http://127.0.0.1:8080",
    credentials: { accessKeyId: "key:id", secretAccessKey: "s@cret" },
    source: "--s3-endpoint's KEY:SECRET",
  });
  await assert.rejects(
    s3Credentials("http://key@127.0.0.1:8080/"),
    (e) => e instanceof RangeError && /--s3-endpoint/.test(e.message),
  );
});

Deno.test("without userinfo, S3 credentials come from the SDK's chain: AWS_* with a session token", async () => {
  const vars = {
    AWS_ACCESS_KEY_ID: "AKIA-from-env",
    AWS_SECRET_ACCESS_KEY: "secret-from-env",
    AWS_SESSION_TOKEN: "token-from-env",
  };
  const before = Object.keys(vars).map((name) => [name, Deno.env.get(name)] as const);
  for (const [name, value] of Object.entries(vars)) Deno.env.set(name, value);
  try {
    const { endpoint, credentials } = await s3Credentials("https://s3.example/");
    assert.equal(endpoint, "https://s3.example");
    assert.equal(typeof credentials, "function", "a provider, asked before each request");
    const got = await (credentials as () => Promise<Credentials>)();
    assert.equal(got.accessKeyId, vars.AWS_ACCESS_KEY_ID);
    assert.equal(got.secretAccessKey, vars.AWS_SECRET_ACCESS_KEY);
    assert.equal(got.sessionToken, vars.AWS_SESSION_TOKEN);
  } finally {
    for (const [name, value] of before) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
});
