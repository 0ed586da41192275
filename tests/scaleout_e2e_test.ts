/**
 * Several server instances behind one address: two real server processes on two ports share one
 * S3-compatible bucket and one PostgreSQL database (both real, on loopback; see
 * tests/helpers/services.ts). Skipped, with a notice, where those aren't running.
 */
import assert from "node:assert/strict";
import { S3Store } from "../server/store/s3/s3_store.ts";
import { download, objectMd5, scaleTest, services } from "./helpers/cluster.ts";
import { startServer } from "./helpers/server.ts";
import { multipartUploads, objectKeys, type Services, testSchema } from "./helpers/services.ts";
import { createUpload, head, md5, patch, randomBytes, streamOf } from "./helpers/uploads.ts";
import { TcpProxy } from "./helpers/tcp_proxy.ts";
import { waitFor } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

scaleTest(
  "an upload started on A resumes on B after A is SIGKILLed mid-body; the object's MD5 matches",
  async ({ s3, schema, start }) => {
    const a = await start();
    const b = await start();
    const data = randomBytes(23 * MiB + 321, 7);
    const { id, path } = await createUpload(a, data.length);
    // An acknowledged PATCH on A: one part and a tail (7 MiB with 5 MiB parts).
    const first = await patch(a, path, 0, data.slice(0, 7 * MiB));
    assert.equal(first.status, 204, first.text);
    assert.equal(first.offset, 7 * MiB);
    assert.equal((await head(b, path)).offset, 7 * MiB, "B tells the same offset");

    // A second PATCH on A sends 9 MiB and then stalls, as a slow client would.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => release = resolve);
    let sent = 7 * MiB;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= 16 * MiB) {
          await stalled;
          controller.close();
          return;
        }
        controller.enqueue(data.slice(sent, sent + 256 * 1024));
        sent += 256 * 1024;
      },
    });
    const inFlight = patch(a, path, 7 * MiB, body).catch((error) => error);
    // A records each part as it goes. (Watched in the database: a HEAD would take the upload's
    // lock, which asks A's PATCH to stop — across instances — and it would end cleanly.)
    const seen = await waitFor(async () => {
      const row = await schema.rows.get(id);
      const offset = row ? row.partsBytes + row.tailBytes : 0;
      return offset >= 10 * MiB ? offset : undefined;
    }, { timeoutMs: 15_000, message: "A to record parts of the in-flight PATCH" });
    await a.kill("SIGKILL");
    release();
    const outcome = await inFlight;
    assert.ok(outcome instanceof Error, `the killed PATCH got no answer, not ${outcome.status}`);

    // B knows exactly what is durable (a part boundary past the acknowledged bytes) and resumes.
    const resumed = (await head(b, path)).offset!;
    assert.ok(resumed >= seen && resumed >= 7 * MiB, `offset ${resumed}`);
    assert.equal(resumed % (5 * MiB), 0, "the killed PATCH's unrecorded tail is not claimed");
    const rest = await patch(b, path, resumed, streamOf(data.subarray(resumed)));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(rest.offset, data.length);

    const got = await download(b, path);
    assert.equal(got.status, 200);
    assert.equal(got.md5, md5(data));
    assert.equal(got.stated, md5(data), "Repr-Digest, hashed by B from the object");
    assert.equal(await objectMd5(s3, id), md5(data), "the object in the bucket");
    assert.deepEqual(await multipartUploads(s3, ""), []);
    // A may have died between recording a part and deleting the tail that part replaced: such a
    // tail is referenced by no row, and the sweep removes it (here run with its age limit lifted).
    const left = (await objectKeys(s3, "")).filter((key) => key !== id);
    for (const key of left) assert.match(key, new RegExp(`^${id}\\.tail-`), "only a stale tail");
    if (left.length > 0) {
      const dir = await Deno.makeTempDir({ prefix: "resumable-sweep-" });
      const sweeper = await S3Store.open({ s3, rows: schema.rows, dir, partSize: 5 * MiB });
      try {
        await sweeper.collectGarbage(Date.now() + 60_000);
      } finally {
        await sweeper.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
    assert.deepEqual(await objectKeys(s3, ""), [id], "no tail objects left behind");
  },
);

scaleTest("PATCHes racing on two instances never corrupt the upload", async ({ s3, start }) => {
  const a = await start();
  const b = await start();
  const data = randomBytes(21 * MiB + 5, 11);
  const { id, path } = await createUpload(a, data.length);
  const statuses: number[] = [];
  let offset = 0;
  for (let round = 0; offset < data.length && round < 20; round++) {
    // Both instances are sent the rest from the offset they report, at the same time.
    const from = [(await head(a, path)).offset!, (await head(b, path)).offset!];
    assert.equal(from[0], from[1], "both instances report the same offset");
    const results = await Promise.all(
      [a, b].map((server, i) =>
        patch(server, path, from[i]!, streamOf(data.subarray(from[i]!), [100_000, 300_001]))
      ),
    );
    for (const r of results) {
      statuses.push(r.status);
      assert.ok([204, 409, 423].includes(r.status), `${r.status}: ${r.text}`);
    }
    offset = (await head(b, path)).offset!;
  }
  assert.equal(offset, data.length);
  assert.ok(statuses.some((s) => s !== 204), `the PATCHes did race: ${statuses}`);
  const got = await download(a, path);
  assert.equal(got.md5, md5(data));
  assert.equal(got.stated, md5(data));
  assert.equal(await objectMd5(s3, id), md5(data));
});

scaleTest(
  "expiry aborts the multipart upload and leaves nothing in the bucket",
  async ({ s3, start }) => {
    const a = await start(["--expire", "1s"]);
    const { path } = await createUpload(a, 20 * MiB);
    const written = await patch(a, path, 0, randomBytes(6 * MiB, 3));
    assert.equal(written.status, 204, written.text);
    assert.equal((await multipartUploads(s3, "")).length, 1, "a part is up");
    assert.equal((await objectKeys(s3, "")).length, 1, "and a tail");
    await waitFor(async () => (await head(a, path)).status >= 400, {
      timeoutMs: 15_000,
      message: "the upload to expire",
    });
    // The row goes first (the upload is gone at once), then its parts and tail.
    await waitFor(async () => (await multipartUploads(s3, "")).length === 0, {
      message: "the multipart upload to be aborted",
    });
    await waitFor(async () => (await objectKeys(s3, "")).length === 0, {
      message: "the tail object to be deleted",
    });
  },
);

scaleTest(
  "a HEAD on B asks A's stalled PATCH to let go; A keeps and records what arrived",
  async ({ schema, start }) => {
    const a = await start();
    const b = await start();
    const data = randomBytes(8 * MiB, 5);
    const { id, path } = await createUpload(a, data.length);
    let sent = 0;
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => release = resolve);
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= 6 * MiB + 1234) {
          await stalled; // a half-dead client: never another byte
          controller.close();
          return;
        }
        const n = Math.min(128 * 1024, 6 * MiB + 1234 - sent);
        controller.enqueue(data.slice(sent, sent + n));
        sent += n;
      },
    });
    const inFlight = patch(a, path, 0, body).catch((error) => error);
    await waitFor(async () => ((await schema.rows.get(id))?.partsBytes ?? 0) > 0, {
      message: "A to record its first part",
    });
    // B's HEAD takes the lock: A is asked (NOTIFY) to stop, records what it has and lets go.
    const seen = (await head(b, path)).offset!;
    assert.ok(seen > 5 * MiB, `the bytes after the part are kept too: ${seen}`);
    release();
    const outcome = await inFlight;
    assert.ok(!(outcome instanceof Error), String(outcome));
    assert.equal(outcome.offset, seen, "A's answer states the same offset");
    const rest = await patch(b, path, seen, data.slice(seen));
    assert.equal(rest.status, 204, rest.text);
    assert.equal((await download(a, path)).md5, md5(data));
  },
);

Deno.test({
  name: "scale-out: with --db, file-store instances on one shared directory share their locks",
  ignore: services === undefined,
  sanitizeResources: false,
  async fn() {
    const schema = await testSchema(services!);
    const shared = await Deno.makeTempDir({ prefix: "resumable-shared-" });
    const args = ["--dir", shared, "--db", schema.url];
    try {
      await using a = await startServer({ args });
      await using b = await startServer({ args });
      const data = randomBytes(9 * MiB + 77, 21);
      const { path } = await createUpload(a, data.length);
      const statuses: number[] = [];
      for (let round = 0; round < 20; round++) {
        const from = (await head(b, path)).offset!;
        if (from === data.length) break;
        const results = await Promise.all(
          [a, b].map((server) =>
            patch(server, path, from, streamOf(data.subarray(from), [100_000, 300_001]))
          ),
        );
        statuses.push(...results.map((r) => r.status));
      }
      assert.equal((await head(a, path)).offset, data.length);
      assert.ok(statuses.some((s) => s !== 204), `the PATCHes did race: ${statuses}`);
      assert.equal((await download(b, path)).md5, md5(data));
    } finally {
      await schema.drop();
      await Deno.remove(shared, { recursive: true });
    }
  },
});

scaleTest(
  "/readyz says when the bucket can't be reached, and new uploads get 503 meanwhile",
  async (cluster) => {
    const svc = services as Services;
    const s3 = new URL(svc.s3.endpoint);
    const proxy = TcpProxy.start({ target: { hostname: s3.hostname, port: Number(s3.port) } });
    const server = await cluster.start(["--s3-endpoint", `http://127.0.0.1:${proxy.port}`]);
    const ready = async () => {
      const res = await fetch(`${server.origin}/readyz`);
      return { status: res.status, text: await res.text() };
    };
    assert.equal((await ready()).status, 200);
    await proxy[Symbol.asyncDispose](); // the bucket goes away
    const down = await waitFor(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 10_000, message: "/readyz 503" });
    assert.match(down.text, /bucket is unreachable/);
    const res = await fetch(server.url, { method: "POST", headers: { "Upload-Length": "5" } });
    assert.equal(res.status, 503, await res.text());
    assert.ok(res.headers.get("retry-after"));
  },
);
