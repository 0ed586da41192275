/**
 * Opens the bucket of `--store s3`: finds its credentials and makes a first request, so that a
 * wrong setting stops the server at start with one line naming the setting and S3's reason.
 *
 * Credentials: a `key:secret@` in `--s3-endpoint` is used as is; otherwise the AWS SDK's default
 * provider chain finds them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, shared
 * config and credentials files with AWS_PROFILE, web identity, the ECS container endpoint, EC2
 * instance metadata) and renews temporary ones before they expire.
 */
import type { ServerConfig } from "./config/config.ts";
import { S3Client, S3Error } from "./store/s3/s3_client.ts";
import type { CredentialSource } from "./store/s3/s3_signer.ts";

/** The endpoint without userinfo, the credentials, and where they come from (for messages). */
export async function s3Credentials(
  endpoint: string,
): Promise<{ endpoint: string; credentials: CredentialSource; source: string }> {
  const url = new URL(endpoint);
  const accessKeyId = decodeURIComponent(url.username);
  const secretAccessKey = decodeURIComponent(url.password);
  url.username = "";
  url.password = "";
  const bare = url.href.replace(/\/+$/, "");
  if (accessKeyId || secretAccessKey) {
    if (!accessKeyId || !secretAccessKey) {
      throw new RangeError("--s3-endpoint: give both the key and the secret (KEY:SECRET@host)");
    }
    const source = "--s3-endpoint's KEY:SECRET";
    return { endpoint: bare, credentials: { accessKeyId, secretAccessKey }, source };
  }
  // Loaded only when needed (the SDK is large).
  const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
  return { endpoint: bare, credentials: fromNodeProviderChain(), source: "AWS credential chain" };
}

/** A client on `--s3-bucket`, which exists (created if missing) and answers us. */
export async function openBucket(config: ServerConfig): Promise<S3Client> {
  const { endpoint, credentials, source } = await s3Credentials(config.s3Endpoint!);
  if (typeof credentials === "function") {
    try {
      await credentials();
    } catch (error) {
      throw new RangeError(
        "--store s3 found no S3 credentials: give KEY:SECRET@ in --s3-endpoint, or set " +
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE, or " +
          `AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (${(error as Error).message})`,
        { cause: error },
      );
    }
  }
  const s3 = new S3Client({
    endpoint,
    credentials,
    bucket: config.s3Bucket!,
    region: config.s3Region,
  });
  try {
    await s3.ensureBucket();
  } catch (error) {
    s3.close();
    throw refusal(error, config, source);
  }
  return s3;
}

/** The setting each S3 error code (of a refused first request) says is wrong. */
const SETTING_AT_FAULT: Record<string, "bucket" | "credentials" | "region"> = {
  InvalidBucketName: "bucket",
  BucketAlreadyExists: "bucket",
  NoSuchBucket: "bucket",
  SignatureDoesNotMatch: "credentials",
  InvalidAccessKeyId: "credentials",
  InvalidToken: "credentials",
  ExpiredToken: "credentials",
  InvalidClientTokenId: "credentials",
  AccessDenied: "credentials",
  AuthorizationHeaderMalformed: "region",
  IllegalLocationConstraintException: "region",
  InvalidLocationConstraint: "region",
  PermanentRedirect: "region",
};

/**
 * A refusal (4xx) of the first request is a wrong setting: one line naming it, with S3's error
 * code and message (a RangeError: exit 2). Anything else (S3 down, a 5xx) stays as it is.
 */
function refusal(error: unknown, config: ServerConfig, source: string): unknown {
  if (!(error instanceof S3Error) || error.status < 400 || error.status >= 500) return error;
  const why = `S3 answered ${error.status} ${error.code}: ${error.detail || "(no message)"}`;
  const setting = SETTING_AT_FAULT[error.code];
  const named = setting === "bucket"
    ? `--s3-bucket ${JSON.stringify(config.s3Bucket)}`
    : setting === "region"
    ? `--s3-region ${JSON.stringify(config.s3Region)}`
    : setting === "credentials"
    ? `the S3 credentials (from the ${source})`
    : `--s3-endpoint/--s3-bucket ${JSON.stringify(config.s3Bucket)}`;
  return new RangeError(`${named}: ${why}`, { cause: error });
}
