/**
 * A server on `--store s3` whose settings S3 refuses stops at start: exit 2, one line naming the
 * setting, with S3's error code and message. Real server processes against the real
 * S3-compatible server (see tests/helpers/services.ts); skipped, with a notice, without it.
 */
import assert from "node:assert/strict";
import { runMain } from "./helpers/server.ts";
import { type Services, testSchema, testServices } from "./helpers/services.ts";

const services = testServices();

/** Runs `server` on the test bucket's endpoint with `flags` (and a schema of its own) to its end. */
async function start(flags: { bucket?: string; secret?: string; userinfo?: boolean }, env = {}) {
  const svc = services as Services;
  const schema = await testSchema(svc);
  const dir = await Deno.makeTempDir({ prefix: "resumable-s3-start-" });
  const endpoint = new URL(svc.s3.endpoint);
  if (flags.userinfo !== false) {
    endpoint.username = encodeURIComponent(svc.s3.credentials.accessKeyId);
    endpoint.password = encodeURIComponent(flags.secret ?? svc.s3.credentials.secretAccessKey);
  }
  try {
    return await runMain(
      [
        "server",
        "--port",
        "0",
        "--dir",
        dir,
        "--store",
        "s3",
        "--s3-endpoint",
        endpoint.href,
        "--s3-bucket",
        flags.bucket ?? "resumable-test",
        "--db",
        schema.url,
      ],
      30_000,
      env,
    );
  } finally {
    await schema.drop();
    await Deno.remove(dir, { recursive: true });
  }
}

function startTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `S3 start-up: ${name}`, ignore: services === undefined, fn });
}

startTest("an invalid bucket name is exit 2, naming --s3-bucket and S3's reason", async () => {
  const { code, stdout, stderr } = await start({ bucket: "Not_A_Bucket" });
  assert.equal(code, 2, stderr);
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /^error: --s3-bucket "Not_A_Bucket": S3 answered 400 InvalidBucketName: \S[^\n]*\n$/,
  );
});

startTest("a wrong secret is exit 2, naming the credentials and S3's reason", async () => {
  const { code, stderr } = await start({ secret: "not-the-secret" });
  assert.equal(code, 2, stderr);
  assert.match(
    stderr,
    /^error: the S3 credentials \(from the --s3-endpoint's KEY:SECRET\): S3 answered 403 SignatureDoesNotMatch: \S[^\n]*\n$/,
  );
  assert.doesNotMatch(stderr, /not-the-secret/, "the secret is not printed");
});

startTest("no credentials anywhere is exit 2, saying where they can come from", async () => {
  const nowhere = await Deno.makeTempDir({ prefix: "resumable-no-aws-" });
  try {
    const { code, stderr } = await start({ userinfo: false }, {
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
      AWS_PROFILE: "",
      AWS_CONFIG_FILE: `${nowhere}/config`,
      AWS_SHARED_CREDENTIALS_FILE: `${nowhere}/credentials`,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: "",
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "",
      AWS_WEB_IDENTITY_TOKEN_FILE: "",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      /^error: --store s3 found no S3 credentials: [^\n]*AWS_ACCESS_KEY_ID[^\n]*\n$/,
    );
  } finally {
    await Deno.remove(nowhere, { recursive: true });
  }
});
