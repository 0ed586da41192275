/**
 * The client CLI under network failure: a connection cut mid-chunk (TCP proxy), 503 with
 * Retry-After, a PATCH accepted without progress, and a vanished upload (404).
 */
import assert from "node:assert/strict";
import {
  assertExit,
  assertOneErrorLine,
  type ClientRun,
  completedEvent,
  describeRun,
  eventsOf,
  idOf,
  only,
} from "./helpers/client_cli.ts";
import { TimeoutError, withDeadline } from "./helpers/wait.ts";
import {
  assertContiguous,
  client,
  ClientFixture,
  MiB,
  serverOffset,
  sum,
} from "./helpers/client_runs.ts";

Deno.test(
  "when the connection drops mid-chunk, the client retries, resumes from the server's offset and finishes with the right MD5",
  async () => {
    await using fx = await ClientFixture.start();
    const proxy = fx.proxy();
    const size = 32 * MiB;
    const source = await fx.generate("dropped.bin", size, 7);
    proxy.cutAfterUpstreamBytes(20 * MiB); // mid-way through the third 8 MiB PATCH
    // Deno's fetch re-sends a request once, on a new connection, when the reused keep-alive
    // connection under it dies, so a single cut may never reach the client (the re-sent PATCH is
    // then accepted, or gets a 409). Cut that re-send too, 1 MiB in, so a network error does.
    const rearmed = proxy.cut.then(() => proxy.cutAfterUpstreamBytes(MiB));

    const run = await client(fx.upload(source.path, "--json"));
    await withDeadline(rearmed, 1000, "the proxy to have cut the connection");
    await withDeadline(proxy.cut, 1000, "the proxy to have cut the re-sent request");
    assertExit(run, 0);
    const events = eventsOf(run);
    const retry = events.findIndex((e) => e.type === "retry");
    assert.ok(retry >= 0, `expected a retry event\n${describeRun(run)}`);
    assert.equal(only(events, "created").length, 1);
    assert.equal(only(events, "restarted").length, 0, "the upload was resumed, not restarted");
    const before = only(events.slice(0, retry), "progress").at(-1)?.acknowledged ?? 0;
    const after = only(events.slice(retry), "progress")[0]?.acknowledged ?? 0;
    assert.ok(before >= 16 * MiB, `acknowledged before the cut: ${before}`);
    assert.ok(after >= before, `resumed at ${after}, below the ${before} bytes acknowledged`);
    const completed = completedEvent(run);
    assert.equal(completed.md5, source.md5);
    assert.equal(completed.sha256, source.sha256);
    assert.equal(completed.verified, "digest");
    // Resumed from the server's offset: besides the file, at most the chunk the first cut hit
    // (8 MiB), the cut re-send (1 MiB) and headers went up.
    assert.ok(
      proxy.upstreamBytes <= size + 9 * MiB + 64 * 1024,
      `${proxy.upstreamBytes} bytes went upstream for a ${size}-byte file`,
    );
    const id = idOf(completed.url);
    assert.equal(await serverOffset(fx.server, id), size);
    await fx.assertStored(id, source.md5);
  },
);

Deno.test(
  "a 503 with Retry-After makes the client wait at least that long, ask HEAD and continue to the right MD5",
  async () => {
    await using fx = await ClientFixture.start();
    const size = 16 * MiB;
    const source = await fx.generate("unavailable.bin", size, 14);
    let injected = false;
    const recorder = fx.record({
      beforeForward: (request) => {
        if (request.method !== "PATCH" || request.uploadOffset !== 8 * MiB || injected) return;
        injected = true;
        return new Response("busy\n", { status: 503, headers: { "Retry-After": "1" } });
      },
    });
    const run = await client(fx.upload(source.path, "--json"));
    assertExit(run, 0);
    assert.ok(injected, "the client never sent a PATCH at 8 MiB");
    const events = eventsOf(run);
    const retries = only(events, "retry");
    assert.equal(retries.length, 1, describeRun(run));
    assert.ok(
      retries[0]!.delayMs >= 1000,
      `waited ${retries[0]!.delayMs} ms despite Retry-After: 1`,
    );
    assert.match(retries[0]!.reason, /503/);
    assert.equal(completedEvent(run).md5, source.md5);
    await recorder.settled();
    const failed = recorder.requests.find((r) => r.status === 503)!;
    const after = recorder.requests.filter((r) => r.index > failed.index);
    assert.equal(
      after[0]?.method,
      "HEAD",
      "after the 503 the client asks the server's offset first",
    );
    const patches = recorder.byMethod("PATCH").filter((p) => p.status === 204);
    assertContiguous(patches, 0);
    assert.equal(sum(patches), size);
  },
);

Deno.test(
  "a server that answers PATCH 204 without taking any bytes makes the client give up after --retries (exit 4), not loop forever",
  async () => {
    await using fx = await ClientFixture.start();
    const source = await fx.generate("ignored.bin", MiB, 15);
    // Like a proxy that drops request bodies: every PATCH is "accepted" with the offset unchanged.
    const recorder = fx.record({
      beforeForward: (request) => {
        if (request.method !== "PATCH") return;
        return new Response(null, {
          status: 204,
          headers: { "Tus-Resumable": "1.0.0", "Upload-Offset": String(request.uploadOffset) },
        });
      },
    });
    let run: ClientRun;
    try {
      run = await client(fx.upload(source.path, "--retries", "2", "--json"), 10_000);
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      await recorder.settled();
      assert.fail(
        `still running after 10 s, having sent ${recorder.byMethod("PATCH").length} PATCHes ` +
          `that made no progress (--retries 2)`,
      );
    }
    assertExit(run, 4);
    assertOneErrorLine(run);
    await recorder.settled();
    assert.ok(
      recorder.byMethod("PATCH").length <= 3,
      `${recorder.byMethod("PATCH").length} PATCHes for --retries 2`,
    );
  },
);

Deno.test(
  "when the remembered upload is gone (404) the client says so and starts a new upload that completes",
  async () => {
    await using fx = await ClientFixture.start();
    const source = await fx.generate("gone.bin", 16 * MiB, 16);
    const command = fx.upload(source.path, "--json");
    const { url: oldUrl } = await fx.crash(command, "0.5");
    const res = await fetch(oldUrl, { method: "DELETE", headers: { "Tus-Resumable": "1.0.0" } });
    await res.body?.cancel();
    assert.equal(res.status, 204);

    const second = await fx.complete(command);
    const events = eventsOf(second);
    assert.deepEqual(
      events.map((e) => e.type).filter((t) => t !== "progress"),
      ["restarted", "created", "completed"],
      describeRun(second),
    );
    const created = only(events, "created")[0]!;
    assert.notEqual(created.url, oldUrl);
    const completed = completedEvent(second);
    assert.equal(completed.url, created.url);
    assert.equal(completed.md5, source.md5);
    await fx.assertStored(idOf(completed.url), source.md5);
  },
);
