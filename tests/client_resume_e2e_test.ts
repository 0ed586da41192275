/**
 * The client CLI against the real server, both child processes: resuming after a SIGKILL without
 * re-sending acknowledged bytes, chunking, and a data file truncated between runs. Traffic is
 * observed through a recording HTTP proxy; nothing sleeps to synchronise.
 */
import assert from "node:assert/strict";
import {
  assertExit,
  assertKilled,
  completedEvent,
  digestsOf,
  eventsOf,
  idOf,
  only,
  tempDir,
} from "./helpers/client_cli.ts";
import { HttpRecorder, type RecordedRequest } from "./helpers/http_recorder.ts";
import { startServer } from "./helpers/server.ts";
import {
  assertContiguous,
  client,
  createdUrl,
  generate,
  MiB,
  serverOffset,
  sum,
  uploadedLine,
} from "./helpers/client_runs.ts";

Deno.test(
  "a client killed at a random point past half resumes from the server's offset and re-sends not one acknowledged byte",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/big.bin`;
    const source = await generate(file, "64MiB", 1);
    assert.equal(source.size, 64 * MiB);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
    ];

    const first = await client([...command, "--crash-after", "random"]);
    assertKilled(first);
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const atCrash = await serverOffset(server, id);
    assert.ok(
      atCrash >= source.size / 2,
      `the server should hold at least half the file at the crash, holds ${atCrash}`,
    );
    const firstPatches = recorder.byMethod("PATCH");
    assertContiguous(firstPatches, 0);
    assert.ok(firstPatches.every((p) => p.status === 204), "every PATCH of run 1 succeeded");
    assert.equal(sum(firstPatches), atCrash, "the crash came right after an acknowledgement");

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    const done = uploadedLine(second);
    assert.equal(done.md5, source.md5);
    assert.equal(done.sha256, source.sha256);
    assert.equal(idOf(done.url), id, "the second run finishes the same upload");
    await recorder.settled();
    assert.equal(recorder.byMethod("POST").length, 0, "no new upload on the second run");
    const patches = recorder.byMethod("PATCH");
    assert.equal(
      sum(patches),
      source.size - atCrash,
      "the second run sends exactly the bytes the server had not acknowledged",
    );
    assertContiguous(patches, atCrash);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "with --chunk-size 1MiB every PATCH carries exactly 1 MiB (the last may be shorter), before and after a crash",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/chunks.bin`;
    const size = 32 * MiB + 12_345; // the last chunk is short
    const source = await generate(file, size, 2);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--chunk-size",
      "1MiB",
    ];

    const first = await client([...command, "--crash-after", "random"]);
    assertKilled(first);
    await recorder.settled();
    const id = idOf(createdUrl(recorder));
    const atCrash = await serverOffset(server, id);
    assert.ok(atCrash >= size / 2, `offset at the crash ${atCrash} should be ≥ half`);
    const all: RecordedRequest[] = [...recorder.byMethod("PATCH")];
    assertContiguous(all, 0);
    assert.equal(sum(all), atCrash);

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    assert.equal(uploadedLine(second).md5, source.md5);
    await recorder.settled();
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
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);

Deno.test(
  "after the server's data file was truncated between runs, the client resumes from the truncated offset and the result is right",
  async () => {
    await using server = await startServer();
    await using work = await tempDir();
    await using recorder = HttpRecorder.start({ target: server.origin });
    const file = `${work.path}/truncated.bin`;
    const size = 32 * MiB;
    const source = await generate(file, size, 3);
    const command = [
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state`,
      "--json",
    ];

    assertKilled(await client([...command, "--crash-after", "0.5"]));
    await recorder.settled();
    const url = createdUrl(recorder);
    const id = idOf(url);
    assert.ok((await serverOffset(server, id)) >= 16 * MiB);
    const truncated = 10 * MiB + 12_345;
    await Deno.truncate(server.dataPath(id), truncated);
    assert.equal(await serverOffset(server, id), truncated);

    recorder.clear();
    const second = await client(command);
    assertExit(second, 0);
    const events = eventsOf(second);
    assert.deepEqual(events[0], {
      type: "resumed",
      url: recorder.url(`/files/${id}`),
      offset: truncated,
    });
    assert.equal(only(events, "created").length, 0);
    assert.equal(only(events, "restarted").length, 0);
    assert.equal(completedEvent(second).md5, source.md5);
    await recorder.settled();
    const patches = recorder.byMethod("PATCH");
    assertContiguous(patches, truncated);
    assert.equal(sum(patches), size - truncated);
    assert.equal((await digestsOf(server.dataPath(id))).md5, source.md5);
  },
);
