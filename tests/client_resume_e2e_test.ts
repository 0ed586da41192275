/**
 * The client CLI against the real server, both child processes: resuming after a SIGKILL without
 * re-sending acknowledged bytes, chunking, and a data file truncated between runs. Traffic is
 * observed through a recording HTTP proxy; nothing sleeps to synchronise.
 */
import assert from "node:assert/strict";
import { completedEvent, eventsOf, idOf, only } from "./helpers/client_cli.ts";
import type { RecordedRequest } from "./helpers/http_recorder.ts";
import {
  assertContiguous,
  ClientFixture,
  MiB,
  serverOffset,
  sum,
  uploadedLine,
} from "./helpers/client_runs.ts";

Deno.test(
  "a client killed at a random point past half resumes from the server's offset and re-sends not one acknowledged byte",
  async () => {
    await using fx = await ClientFixture.start();
    const recorder = fx.record();
    const source = await fx.generate("big.bin", "64MiB", 1);
    assert.equal(source.size, 64 * MiB);
    const command = fx.upload(source.path);

    const { id } = await fx.crash(command, "random");
    const atCrash = await serverOffset(fx.server, id);
    assert.ok(
      atCrash >= source.size / 2,
      `the server should hold at least half the file at the crash, holds ${atCrash}`,
    );
    const firstPatches = recorder.byMethod("PATCH");
    assertContiguous(firstPatches, 0);
    assert.ok(firstPatches.every((p) => p.status === 204), "every PATCH of run 1 succeeded");
    assert.equal(sum(firstPatches), atCrash, "the crash came right after an acknowledgement");

    const second = await fx.complete(command);
    const done = uploadedLine(second);
    assert.equal(done.md5, source.md5);
    assert.equal(done.sha256, source.sha256);
    assert.equal(idOf(done.url), id, "the second run finishes the same upload");
    assert.equal(recorder.byMethod("POST").length, 0, "no new upload on the second run");
    const patches = recorder.byMethod("PATCH");
    assert.equal(
      sum(patches),
      source.size - atCrash,
      "the second run sends exactly the bytes the server had not acknowledged",
    );
    assertContiguous(patches, atCrash);
    await fx.assertStored(id, source.md5);
  },
);

Deno.test(
  "with --chunk-size 1MiB every PATCH carries exactly 1 MiB (the last may be shorter), before and after a crash",
  async () => {
    await using fx = await ClientFixture.start();
    const recorder = fx.record();
    const size = 32 * MiB + 12_345; // the last chunk is short
    const source = await fx.generate("chunks.bin", size, 2);
    const command = fx.upload(source.path, "--chunk-size", "1MiB");

    const { id } = await fx.crash(command, "random");
    const atCrash = await serverOffset(fx.server, id);
    assert.ok(atCrash >= size / 2, `offset at the crash ${atCrash} should be ≥ half`);
    const all: RecordedRequest[] = [...recorder.byMethod("PATCH")];
    assertContiguous(all, 0);
    assert.equal(sum(all), atCrash);

    const second = await fx.complete(command);
    assert.equal(uploadedLine(second).md5, source.md5);
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, atCrash);
    assert.equal(sum(patches), size - atCrash);
    all.push(...patches);

    assert.equal(sum(all), size);
    all.forEach((p, i) => {
      const last = i === all.length - 1;
      const expected = last ? size - p.uploadOffset! : MiB;
      assert.ok(expected > 0 && expected <= MiB);
      assert.equal(p.bodyBytes, expected, `body bytes of PATCH at ${p.uploadOffset}`);
    });
    assert.equal(all.at(-1)!.bodyBytes, 12_345, "the last PATCH carries the short remainder");
    await fx.assertStored(id, source.md5);
  },
);

Deno.test(
  "after the server's data file was truncated between runs, the client resumes from the truncated offset and the result is right",
  async () => {
    await using fx = await ClientFixture.start();
    const recorder = fx.record();
    const size = 32 * MiB;
    const source = await fx.generate("truncated.bin", size, 3);
    const command = fx.upload(source.path, "--json");

    const { id } = await fx.crash(command, "0.5");
    assert.ok((await serverOffset(fx.server, id)) >= 16 * MiB);
    const truncated = 10 * MiB + 12_345;
    await Deno.truncate(fx.server.dataPath(id), truncated);
    assert.equal(await serverOffset(fx.server, id), truncated);

    const second = await fx.complete(command);
    const events = eventsOf(second);
    assert.deepEqual(events[0], {
      type: "resumed",
      url: recorder.url(`/files/${id}`),
      offset: truncated,
    });
    assert.equal(only(events, "created").length, 0);
    assert.equal(only(events, "restarted").length, 0);
    assert.equal(completedEvent(second).md5, source.md5);
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, truncated);
    assert.equal(sum(patches), size - truncated);
    await fx.assertStored(id, source.md5);
  },
);
