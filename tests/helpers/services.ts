/**
 * The real S3-compatible server and PostgreSQL that scale-out tests run against, found through
 * the environment (`.ci/run` starts both and exports these):
 *
 *   RESUMABLE_TEST_S3=http://ACCESS_KEY:SECRET@127.0.0.1:8080   (userinfo URL-encoded)
 *   RESUMABLE_TEST_PG=postgres://postgres@127.0.0.1:54329/postgres
 *
 * Without them those tests are registered as ignored, with a notice saying what to set.
 */
import { connect, migrate, type Sql, UploadRows } from "../../server/store/pg_info.ts";
import { S3Client } from "../../server/store/s3/s3_client.ts";

export interface S3Settings {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  bucket: string;
}

export interface Services {
  s3: S3Settings;
  pg: string;
}

/** The flags and environment of a server whose store is `bucket` and whose records are in `db`. */
export function s3StoreFlags(services: Services, bucket: string, db: string) {
  return {
    args: [
      "--store",
      "s3",
      "--s3-endpoint",
      services.s3.endpoint,
      "--s3-bucket",
      bucket,
      "--db",
      db,
    ],
    env: {
      AWS_ACCESS_KEY_ID: services.s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.credentials.secretAccessKey,
    },
  };
}

/** The bucket every test shares; each test works under its own key prefix. */
const BUCKET = "resumable-test";

let noticed = false;

/** The services, or undefined (after printing once why the tests that need them are skipped). */
export function testServices(): Services | undefined {
  const s3 = Deno.env.get("RESUMABLE_TEST_S3");
  const pg = Deno.env.get("RESUMABLE_TEST_PG");
  if (!s3 || !pg) {
    if (!noticed) {
      noticed = true;
      console.warn(
        "NOTICE: S3/PostgreSQL tests are skipped: set RESUMABLE_TEST_S3 (http://KEY:SECRET@host:port) " +
          "and RESUMABLE_TEST_PG (postgres://…) — .ci/run starts both",
      );
    }
    return undefined;
  }
  const url = new URL(s3);
  const settings: S3Settings = {
    endpoint: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`,
    credentials: {
      accessKeyId: decodeURIComponent(url.username) || Deno.env.get("AWS_ACCESS_KEY_ID") || "",
      secretAccessKey: decodeURIComponent(url.password) ||
        Deno.env.get("AWS_SECRET_ACCESS_KEY") || "",
    },
    region: Deno.env.get("RESUMABLE_TEST_S3_REGION") ?? "us-east-1",
    bucket: BUCKET,
  };
  return { s3: settings, pg };
}

/** An S3 client on the test bucket (created if missing). */
export async function testBucket(services: Services): Promise<S3Client> {
  const s3 = new S3Client(services.s3);
  await s3.createBucket();
  return s3;
}

/** A fresh PostgreSQL schema, migrated; dropped by `drop`. */
export interface TestSchema {
  name: string;
  sql: Sql;
  rows: UploadRows;
  /** The --db URL that points a server at this schema. */
  url: string;
  drop(): Promise<void>;
}

export async function testSchema(services: Services): Promise<TestSchema> {
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = connect(services.pg, { max: 1 });
  try {
    await admin.unsafe(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  const sql = connect(services.pg, { schema: name });
  await migrate(sql);
  const url = new URL(services.pg);
  url.searchParams.set("search_path", name);
  return {
    name,
    sql,
    rows: new UploadRows(sql),
    url: url.href,
    async drop() {
      await sql.end({ timeout: 5 });
      const admin = connect(services.pg, { max: 1 });
      try {
        await admin.unsafe(`DROP SCHEMA ${name} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Deletes every object and multipart upload under `prefix`. */
export async function emptyPrefix(s3: S3Client, prefix: string): Promise<void> {
  for await (const upload of s3.listMultipartUploads(prefix)) {
    await s3.abortMultipartUpload(upload.key, upload.uploadId);
  }
  for await (const object of s3.listObjects(prefix)) await s3.deleteObject(object.key);
}

/** Multipart uploads in progress under `prefix`. */
export async function multipartUploads(s3: S3Client, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const upload of s3.listMultipartUploads(prefix)) out.push(upload.key);
  return out;
}

/** Keys of the objects under `prefix`. */
export async function objectKeys(s3: S3Client, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const object of s3.listObjects(prefix)) out.push(object.key);
  return out;
}
