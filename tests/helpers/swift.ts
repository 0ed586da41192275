/**
 * The native API of the test S3-compatible server when it is OpenStack Swift (s3api with
 * tempauth, as .ci/run starts it): what Swift keeps that S3 calls can't show, such as the
 * segments (multipart parts) of a bucket, kept in its `<bucket>+segments` container.
 */
import type { Services } from "./services.ts";

export interface Swift {
  /** Segment names under `<bucket>+segments` starting with `prefix`: `<key>/<upload id>/<part>`. */
  segments(bucket: string, prefix: string): Promise<string[]>;
  /** Whether the segment `name` is stored (asked of the object itself, not of a listing). */
  hasSegment(bucket: string, name: string): Promise<boolean>;
  /** The segment names an object (a completed multipart upload) is made of. */
  manifest(bucket: string, key: string): Promise<string[]>;
}

/**
 * Swift's API, authenticated with the S3 key pair as tempauth user and key; undefined when the
 * S3-compatible server doesn't answer tempauth (it isn't Swift).
 */
export async function testSwift(services: Services): Promise<Swift | undefined> {
  const origin = new URL(services.s3.endpoint).origin;
  const res = await fetch(`${origin}/auth/v1.0`, {
    headers: {
      "X-Auth-User": services.s3.credentials.accessKeyId,
      "X-Auth-Key": services.s3.credentials.secretAccessKey,
    },
  }).catch(() => undefined);
  await res?.body?.cancel();
  const storage = res?.headers.get("x-storage-url");
  const token = res?.headers.get("x-auth-token");
  if (!res?.ok || !storage || !token) return undefined;
  const get = async (path: string) => {
    const got = await fetch(`${storage}/${path}`, { headers: { "X-Auth-Token": token } });
    const text = await got.text();
    if (got.status === 404) return [];
    if (!got.ok) throw new Error(`Swift GET ${path} answered ${got.status}: ${text}`);
    return JSON.parse(text) as { name: string }[];
  };
  return {
    async segments(bucket, prefix) {
      const query = `prefix=${encodeURIComponent(prefix)}&format=json`;
      const listed = await get(`${encodeURIComponent(`${bucket}+segments`)}?${query}`);
      return listed.map((o) => o.name).filter((name) => /\/\d+$/.test(name));
    },
    async hasSegment(bucket, name) {
      const path = `${encodeURIComponent(`${bucket}+segments`)}/${name}`;
      const got = await fetch(`${storage}/${path}`, {
        method: "HEAD",
        headers: { "X-Auth-Token": token },
      });
      await got.body?.cancel();
      if (got.status !== 200 && got.status !== 404) {
        throw new Error(`Swift HEAD ${path} answered ${got.status}`);
      }
      return got.status === 200;
    },
    async manifest(bucket, key) {
      const listed = await get(`${bucket}/${encodeURIComponent(key)}?multipart-manifest=get`);
      // Each names `/<container>/<segment>`.
      return listed.map((o) => o.name.replace(/^\/[^/]+\//, ""));
    },
  };
}
