/**
 * The client CLI when another writer moved the upload's offset, mid-run or between runs: it
 * resyncs, sends only the rest, and never claims success over wrong bytes.
 */
import assert from "node:assert/strict";
import {
  assertExit,
  assertOneErrorLine,
  completedEvent,
  eventsOf,
  idOf,
  only,
} from "./helpers/client_cli.ts";
import { patch } from "./helpers/uploads.ts";
import {
  assertContiguous,
  client,
  ClientFixture,
  createdUrl,
  MiB,
  readRange,
  serverOffset,
  sum,
} from "./helpers/client_runs.ts";

Deno.test(
  "when another writer appends the next bytes mid-run, the client takes the 409, resyncs with HEAD and continues from the new offset",
  async () => {
    await using fx = await ClientFixture.start();
    const size = 24 * MiB;
    const source = await fx.generate("raced.bin", size, 4);
    const raceAt = 8 * MiB;
    const theirs = 4 * MiB;
    let raced: Promise<void> | undefined;
    const recorder = fx.record({
      beforeForward: (request) => {
        if (request.method !== "PATCH" || request.uploadOffset !== raceAt || raced) return;
        // Another writer appends the right next bytes first, so the client's PATCH is stale.
        raced = (async () => {
          const bytes = await readRange(source.path, raceAt, theirs);
          const res = await patch(
            fx.server,
            request.path,
            raceAt,
            bytes as Uint8Array<ArrayBuffer>,
          );
          assert.equal(res.status, 204, `the other writer's PATCH: ${res.text}`);
          assert.equal(res.offset, raceAt + theirs);
        })();
        return raced;
      },
    });

    const run = await client(fx.upload(source.path, "--json"));
    assert.ok(raced, "the client never sent a PATCH at the racing offset");
    await raced;
    assertExit(run, 0);
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const patches = recorder.byMethod("PATCH");
    const stale = patches.findIndex((p) => p.uploadOffset === raceAt);
    assert.equal(patches[stale]?.status, 409, "the client's PATCH at the old offset got 409");
    assert.equal(
      patches[stale + 1]?.uploadOffset,
      raceAt + theirs,
      "the next PATCH starts where the other writer left off",
    );
    const heads = recorder.byMethod("HEAD").filter((h) => h.index > patches[stale]!.index);
    assert.ok(
      heads.some((h) => h.index < patches[stale + 1]!.index),
      "the client asked the server (HEAD) before continuing",
    );
    assertContiguous(patches.slice(stale + 1), raceAt + theirs);

    const events = eventsOf(run);
    assert.equal(only(events, "created").length, 1);
    assert.equal(only(events, "restarted").length, 0);
    assert.ok(only(events, "retry").length >= 1, "a retry (resync) event");
    assert.equal(completedEvent(run).md5, source.md5);
    await fx.assertStored(id, source.md5);
  },
);

Deno.test(
  "when another writer advanced the upload between runs, the client resumes from the new offset and sends only the rest",
  async () => {
    await using fx = await ClientFixture.start();
    const recorder = fx.record();
    const size = 24 * MiB;
    const source = await fx.generate("advanced.bin", size, 5);
    const command = fx.upload(source.path, "--json");

    const { id } = await fx.crash(command, "0.5");
    const atCrash = await serverOffset(fx.server, id);
    assert.ok(atCrash >= size / 2 && atCrash < size - 3 * MiB, `offset at the crash ${atCrash}`);
    const theirs = 3 * MiB + 7;
    const res = await patch(
      fx.server,
      `/files/${id}`,
      atCrash,
      (await readRange(source.path, atCrash, theirs)) as Uint8Array<ArrayBuffer>,
    );
    assert.equal(res.status, 204, res.text);
    const advanced = atCrash + theirs;

    const second = await fx.complete(command);
    const events = eventsOf(second);
    assert.equal(events[0]?.type, "resumed");
    assert.equal((events[0] as { offset: number }).offset, advanced);
    assert.equal(completedEvent(second).md5, source.md5);
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, advanced);
    assert.equal(sum(patches), size - advanced);
    await fx.assertStored(id, source.md5);
  },
);

Deno.test(
  "when another writer appends wrong bytes mid-run, the client does not claim success: it exits 3 naming both digests",
  async () => {
    await using fx = await ClientFixture.start();
    const source = await fx.generate("poisoned.bin", 16 * MiB, 6);
    let raced: Promise<void> | undefined;
    const recorder = fx.record({
      beforeForward: (request) => {
        if (request.method !== "PATCH" || request.uploadOffset !== 8 * MiB || raced) return;
        raced = (async () => {
          const res = await patch(fx.server, request.path, 8 * MiB, new Uint8Array(MiB).fill(0x5a));
          assert.equal(res.status, 204, res.text);
        })();
        return raced;
      },
    });
    const run = await client(fx.upload(source.path));
    assert.ok(raced, "the client never sent a PATCH at 8 MiB");
    await raced;
    assertExit(run, 3);
    const line = assertOneErrorLine(run);
    const stored = await fx.stored(idOf(createdUrl(recorder)));
    assert.notEqual(stored.md5, source.md5);
    for (const hex of [source.md5, source.sha256, stored.md5, stored.sha256]) {
      assert.ok(line.includes(hex), `the error should name ${hex}: ${line}`);
    }
    assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
  },
);
