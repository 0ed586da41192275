/**
 * Temporary credentials as container platforms hand them out: a real server on `--store s3`
 * without a key in its endpoint or environment gets them from a loopback stand-in for the ECS
 * container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), each set valid for a few
 * seconds, and keeps uploading to the real S3-compatible server across their rotation. (The
 * stand-in hands out the server's static key pair with a new session token each time: what is
 * checked is that the server fetches them again and signs with the new token.)
 */
import assert from "node:assert/strict";
import { download, scaleTest, services } from "./helpers/cluster.ts";
import { S3Tap } from "./helpers/s3_tap.ts";
import { createUpload, md5, patch, randomBytes } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
/** How long each set of credentials is valid. */
const LIFETIME_MS = 4000;

interface Issued {
  token: string;
  at: number;
  expires: number;
}

/** The stand-in: every GET hands out the key pair with a fresh token, expiring soon. */
function credentialsEndpoint(keys: { accessKeyId: string; secretAccessKey: string }) {
  const issued: Issued[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    const at = Date.now();
    const entry = { token: `session-${issued.length + 1}`, at, expires: at + LIFETIME_MS };
    issued.push(entry);
    return Response.json({
      AccessKeyId: keys.accessKeyId,
      SecretAccessKey: keys.secretAccessKey,
      Token: entry.token,
      Expiration: new Date(entry.expires).toISOString(),
    });
  });
  return { issued, url: `http://127.0.0.1:${server.addr.port}/creds`, server };
}

scaleTest(
  "credentials from the container endpoint are renewed mid-upload and sent as X-Amz-Security-Token",
  async ({ start }) => {
    const svc = services!;
    const creds = credentialsEndpoint(svc.s3.credentials);
    await using tap = S3Tap.start(new URL(svc.s3.endpoint));
    const nowhere = await Deno.makeTempDir({ prefix: "resumable-no-aws-" });
    try {
      const server = await start(["--s3-endpoint", tap.origin], {
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
        AWS_CONFIG_FILE: `${nowhere}/config`,
        AWS_SHARED_CREDENTIALS_FILE: `${nowhere}/credentials`,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: creds.url,
        AWS_EC2_METADATA_DISABLED: "true",
      });
      const data = randomBytes(17 * MiB + 321, 13);
      const { path } = await createUpload(server, data.length);

      // One PATCH: its first part goes up, then it waits until the credentials it was signed
      // with have been replaced, then the rest follows.
      const rotated = Promise.withResolvers<void>();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === 6 * MiB) await rotated.promise;
          if (sent >= data.length) return controller.close();
          const n = Math.min(256 * 1024, data.length - sent);
          controller.enqueue(data.slice(sent, sent + n));
          sent += n;
        },
      });
      const inFlight = patch(server, path, 0, body);
      const firstPart = await waitFor(() => tap.requests.find((r) => r.query.has("partNumber")), {
        timeoutMs: 30_000,
        message: "the first part to go up",
      });
      const firstToken = firstPart.headers["x-amz-security-token"];
      assert.ok(firstToken, "the part is sent with the session token");
      // Signing with credentials this close to expiry sets off their renewal.
      await waitFor(() => creds.issued.at(-1)?.token !== firstToken, {
        timeoutMs: 15_000,
        message: "the server to fetch new credentials",
      });
      rotated.resolve();
      const done = await inFlight;
      assert.equal(done.status, 204, done.text);
      assert.equal(done.offset, data.length);

      const later = tap.requests.filter((r) => r.at > firstPart.at);
      const tokens = new Set(later.map((r) => r.headers["x-amz-security-token"]));
      assert.ok(
        [...tokens].some((t) => t !== firstToken),
        `requests after the rotation carry a newer token: ${[...tokens]}`,
      );
      for (const request of tap.requests) {
        const token = request.headers["x-amz-security-token"];
        const issued = creds.issued.find((i) => i.token === token);
        assert.ok(issued, `${request.method} ${request.path} carries a token handed out: ${token}`);
        // Renewed before expiry: no request goes out on credentials that had expired (a request
        // signed just in time may reach the tap a moment later).
        assert.ok(
          request.at < issued.expires + 1000,
          `${request.method} ${request.path} was sent ${request.at - issued.expires} ms after ` +
            `its token expired`,
        );
      }
      assert.equal((await download(server, path)).md5, md5(data));
    } finally {
      await creds.server.shutdown();
      await Deno.remove(nowhere, { recursive: true });
    }
  },
);
