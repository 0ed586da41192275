/**
 * End-to-end process lifecycle: a crash (SIGKILL) mid-PATCH, graceful shutdown (SIGTERM) with a
 * PATCH in flight, and the expiry sweep deleting abandoned uploads from disk.
 */

import assert from "node:assert/strict";
import { startServer } from "./helpers/server.ts";
import {
  createUpload,
  exists,
  fileSize,
  head,
  md5,
  offsetOf,
  patch,
  randomBytes,
  startPatch,
} from "./helpers/uploads.ts";
import { pollUntil, waitFor, withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

Deno.test(
  "after SIGKILL mid-PATCH, the restarted server reports the bytes on disk and the upload resumes to the right content",
  async () => {
    await using server = await startServer();
    const source = randomBytes(48 * MiB, 20);
    const upload = await createUpload(server, source.length);
    const data = server.dataPath(upload.id);

    await using conn = await startPatch(server, upload.path, source.length);
    const sending = conn.write(source.subarray(0, 20 * MiB)).catch(() => {});
    try {
      // Kill while bytes are being written (or, failing that, after a short deadline).
      await pollUntil(async () => ((await fileSize(data)) ?? 0) >= 2 * MiB, { timeoutMs: 5000 });
      const status = await withDeadline(server.kill("SIGKILL"), 5000, "the server to die");
      assert.equal(status.signal, "SIGKILL");
    } finally {
      conn.close();
      await sending;
    }

    const onDisk = (await fileSize(data)) ?? 0;
    await server.restart();
    const status = await head(server, upload.path);
    assert.equal(status.status, 200);
    assert.equal(status.offset, onDisk, "HEAD must report exactly the bytes in the data file");
    assert.ok(onDisk < source.length);
    // What survived is the start of what was sent, nothing else.
    const stored = await Deno.readFile(data);
    assert.equal(md5(stored), md5(source.subarray(0, stored.length)));

    const rest = await patch(server, upload.path, onDisk, source.subarray(onDisk));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(rest.offset, source.length);
    assert.equal(md5(await Deno.readFile(data)), md5(source));
    const download = await fetch(server.origin + upload.path); // the port changed on restart
    assert.equal(download.status, 200);
    assert.equal(md5(new Uint8Array(await download.arrayBuffer())), md5(source));
  },
);

for (const client of ["closes its connection", "stays silent"] as const) {
  // A client that got its 503 hangs up; a half-dead one keeps the connection open without a word.
  // Both must not keep the server from exiting for longer than its shutdown grace (5 s).
  const bound = client === "closes its connection" ? 3000 : 7000;
  Deno.test(
    `SIGTERM with a PATCH in flight answers it 503, keeps the bytes that arrived and exits 0 within ${bound} ms when the client ${client}`,
    async () => {
      await using server = await startServer();
      const source = randomBytes(8 * MiB, 21);
      const sent = 3 * MiB;
      const upload = await createUpload(server, source.length);
      const data = server.dataPath(upload.id);
      const url = server.url;

      await using conn = await startPatch(server, upload.path, source.length);
      await conn.write(source.subarray(0, sent));
      // Wait until the server has the bytes (visible on disk), or long enough that it surely does.
      await pollUntil(async () => (await fileSize(data)) === sent, { timeoutMs: 5000 });

      const started = Date.now();
      const exit = server.kill("SIGTERM");
      const res = await conn.readResponse({ timeoutMs: 5000 });
      assert.equal(res.status, 503, res.text());
      assert.equal(offsetOf(res.headers), sent);
      assert.ok(res.headers.has("retry-after"));
      if (client === "closes its connection") conn.close();
      const status = await withDeadline(exit, 10_000, "the server to exit after SIGTERM");
      const elapsed = Date.now() - started;
      conn.close();
      assert.equal(status.code, 0, server.stderr);
      assert.ok(elapsed < bound, `exit took ${elapsed} ms after SIGTERM`);
      assert.equal(server.stdout, `listening on ${url}\n`, "stdout must hold exactly one line");

      assert.equal(await fileSize(data), sent);
      await server.restart();
      const after = await head(server, upload.path);
      assert.equal(after.status, 200);
      assert.equal(after.offset, sent);
      assert.equal(md5(await Deno.readFile(data)), md5(source.subarray(0, sent)));
    },
  );
}

Deno.test(
  "the expiry sweep deletes an unfinished upload's bytes, leaving a tombstone, and keeps a completed one",
  async () => {
    await using server = await startServer({ expire: "2s" });
    const done = await createUpload(server, 10);
    assert.equal((await patch(server, done.path, 0, randomBytes(10, 22))).status, 204);
    const abandoned = await createUpload(server, 100);
    assert.equal((await patch(server, abandoned.path, 0, randomBytes(10, 23))).status, 204);
    const files = (id: string) => [server.dataPath(id), server.infoPath(id)];

    await waitFor(async () => [404, 410].includes((await head(server, abandoned.path)).status), {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: "the abandoned upload to answer 404 or 410",
    });
    const swept = async (id: string) =>
      !(await exists(server.dataPath(id))) &&
      JSON.parse(await Deno.readTextFile(server.infoPath(id))).ended?.state === "expired";
    await waitFor(() => swept(abandoned.id), {
      timeoutMs: 10_000,
      intervalMs: 50,
      message: "the sweep to delete the abandoned upload's bytes and mark it expired",
    });
    const status = await (await fetch(`${server.origin}${abandoned.path}/status`)).json();
    assert.equal(status.state, "expired");
    const late = await patch(server, abandoned.path, 10, randomBytes(10, 24));
    assert.ok([404, 410].includes(late.status), `PATCH after expiry answered ${late.status}`);

    // One more upload expiring proves a whole later sweep ran (sweeps never overlap), so the
    // sweep that deleted the first had finished looking at the completed upload too.
    const marker = await createUpload(server, 5);
    await waitFor(() => swept(marker.id), {
      timeoutMs: 10_000,
      intervalMs: 50,
      message: "a later sweep to delete another abandoned upload",
    });

    for (const path of files(done.id)) assert.ok(await exists(path), `${path} was deleted`);
    const kept = await head(server, done.path);
    assert.equal(kept.status, 200);
    assert.equal(kept.offset, 10);
  },
);
