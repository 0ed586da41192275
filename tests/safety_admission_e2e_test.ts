/**
 * Admission control (`--max-active`) against the real server process: 503 + Retry-After at once,
 * honoured by the client.
 */
import assert from "node:assert/strict";
import { assertExit, describeRun, eventsOf, tempDir } from "./helpers/client_cli.ts";
import { ClientProcess } from "./helpers/safety.ts";
import { startServer } from "./helpers/server.ts";
import { fileSize, listFiles, md5, offsetOf, randomBytes } from "./helpers/uploads.ts";
import { holdPatch } from "./helpers/held_patch.ts";
import {
  call,
  CLIENT_TIMEOUT_MS,
  create,
  KiB,
  MiB,
  OCTETS,
  patchAt,
} from "./helpers/safety_http.ts";

Deno.test(
  "admission: with --max-active 1 a second body gets 503 + Retry-After at once while HEAD, OPTIONS and GET answer; after the first ends PATCH works again",
  async () => {
    await using server = await startServer({ args: ["--max-active", "1"] });
    const small = randomBytes(64 * KiB, 31);
    const other = await create(server, { "Upload-Length": String(small.length) });
    const complete = await create(server, { "Upload-Length": "5" });
    assert.equal((await patchAt(server, complete.path, 0, "hello")).status, 204);

    await using held = await holdPatch(server);

    const started = performance.now();
    const busy = await patchAt(server, other.path, 0, small);
    const took = performance.now() - started;
    assert.equal(busy.status, 503, busy.text);
    const retryAfter = busy.headers.get("retry-after");
    assert.match(retryAfter ?? "", /^\d+$/, "503 carries Retry-After in seconds");
    assert.ok(Number(retryAfter) >= 1);
    assert.ok(took < 1000, `the 503 took ${took.toFixed(0)} ms: it should come at once`);
    assert.equal(offsetOf(busy.headers), 0);
    assert.equal(await fileSize(server.dataPath(other.id)), 0, "the refused body wrote nothing");

    // creation-with-upload is a body too: refused, and no unreachable upload is left behind.
    const before = await listFiles(server.dir);
    const post = await call(server, "POST", "/files", {
      headers: { "Upload-Length": String(small.length), "Content-Type": OCTETS },
      body: small,
    });
    assert.equal(post.status, 503, post.text);
    assert.ok(post.headers.get("retry-after"), "503 on POST carries Retry-After");
    assert.deepEqual(await listFiles(server.dir), before, "the refused POST left files behind");

    // Requests without a body are still served.
    const headOther = await call(server, "HEAD", other.path);
    assert.equal(headOther.status, 200);
    assert.equal(offsetOf(headOther.headers), 0);
    assert.equal((await call(server, "OPTIONS", "/files")).status, 204);
    const got = await call(server, "GET", complete.path);
    assert.equal(got.status, 200);
    assert.equal(got.text, "hello");
    const status = await call(server, "GET", `${held.upload.path}/status`);
    assert.equal(status.status, 200, status.text);
    assert.ok(JSON.parse(status.text).received >= MiB, status.text);
    const noBody = await create(server, { "Upload-Length": "3" });
    assert.ok(noBody.id, "a POST without a body is not a body");

    // The first PATCH finishes; the slot is free again.
    const first = await held.finish();
    assert.equal(first.status, 204, first.text);
    assert.equal(first.offset, held.source.length);
    assert.equal(md5(await Deno.readFile(server.dataPath(held.upload.id))), md5(held.source));
    const again = await patchAt(server, other.path, 0, small);
    assert.equal(again.status, 204, again.text);
    assert.equal(md5(await Deno.readFile(server.dataPath(other.id))), md5(small));
  },
);

Deno.test(
  "admission: the client waits at least Retry-After after a 503 and completes once the slot is free",
  async () => {
    await using server = await startServer({ args: ["--max-active", "1"] });
    await using dir = await tempDir("resumable-safety-");
    const file = `${dir.path}/upload.bin`;
    const source = randomBytes(200 * KiB + 3, 41);
    await Deno.writeFile(file, source);

    await using held = await holdPatch(server);
    // What the server asks for while busy.
    const probe = await create(server, { "Upload-Length": "1" });
    const busy = await patchAt(server, probe.path, 0, "x");
    assert.equal(busy.status, 503, busy.text);
    const retryAfterMs = Number(busy.headers.get("retry-after")) * 1000;
    assert.ok(retryAfterMs >= 1000, `Retry-After ${busy.headers.get("retry-after")}`);

    await using client = ClientProcess.spawn([
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${dir.path}/state`,
      "--json",
    ]);
    const line = await client.waitForLine(
      (l) => l.includes('"type":"retry"'),
      15_000,
      "the client's retry event after the 503",
    );
    const retry = JSON.parse(line) as { delayMs: number; reason: string };
    assert.match(retry.reason, /503/, line);
    assert.ok(
      retry.delayMs >= retryAfterMs,
      `the client waits ${retry.delayMs} ms despite Retry-After ${retryAfterMs / 1000}`,
    );
    // Free the slot while the client waits.
    const first = await held.finish();
    assert.equal(first.status, 204, first.text);

    const run = await client.finish(CLIENT_TIMEOUT_MS);
    assertExit(run, 0);
    const completed = eventsOf(run).find((e) => e.type === "completed");
    assert.ok(completed, describeRun(run));
    assert.equal(completed.md5, md5(source));
  },
);
