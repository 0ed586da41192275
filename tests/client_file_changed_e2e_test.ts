/** The client CLI when the file changed between runs or during the upload. */
import assert from "node:assert/strict";
import {
  assertExit,
  assertKilled,
  completedEvent,
  describeRun,
  digestsOf,
  eventsOf,
  idOf,
  only,
  tempDir,
} from "./helpers/client_cli.ts";
import { assertOneErrorLine } from "./helpers/client_cli.ts";
import { HttpRecorder } from "./helpers/http_recorder.ts";
import { startServer } from "./helpers/server.ts";
import { client, generate, MiB } from "./helpers/client_runs.ts";

for (
  const change of [
    {
      what: "one byte in the already uploaded part changed",
      apply: async (path: string) => {
        using f = await Deno.open(path, { read: true, write: true });
        await f.seek(3 * MiB + 5, Deno.SeekMode.Start);
        const one = new Uint8Array(1);
        await f.read(one);
        await f.seek(3 * MiB + 5, Deno.SeekMode.Start);
        await f.write(new Uint8Array([one[0]! ^ 0xff]));
      },
    },
    {
      what: "bytes were appended",
      apply: async (path: string) => {
        using f = await Deno.open(path, { append: true });
        await f.write(new Uint8Array(1000).fill(7));
      },
    },
  ]
) {
  Deno.test(
    `when the file was modified between runs (${change.what}), the client starts a new upload of the new content`,
    async () => {
      await using server = await startServer();
      await using work = await tempDir();
      const file = `${work.path}/changing.bin`;
      const original = await generate(file, 16 * MiB, 8);
      const command = [
        "upload",
        file,
        "--endpoint",
        server.url,
        "--state-dir",
        `${work.path}/state`,
        "--json",
      ];
      const first = await client([...command, "--crash-after", "0.5"]);
      assertKilled(first);
      const firstCreated = only(eventsOf(first), "created");
      assert.equal(firstCreated.length, 1);
      const oldUrl = firstCreated[0]!.url;

      await change.apply(file);
      const modified = await digestsOf(file);
      assert.notEqual(modified.md5, original.md5);

      const second = await client(command);
      assertExit(second, 0);
      const events = eventsOf(second);
      assert.equal(only(events, "resumed").length, 0, "the old upload must not be resumed");
      const created = only(events, "created");
      assert.equal(created.length, 1, `expected a new upload\n${describeRun(second)}`);
      assert.notEqual(created[0]!.url, oldUrl);
      const completed = completedEvent(second);
      assert.equal(completed.url, created[0]!.url);
      assert.equal(completed.md5, modified.md5);
      assert.equal(completed.size, modified.size);
      const id = idOf(completed.url);
      assert.equal((await digestsOf(server.dataPath(id))).md5, modified.md5);
    },
  );
}

for (const chunk of ["a middle chunk", "the last chunk"] as const) {
  Deno.test(
    `a file that grows while ${chunk} is being sent stops the upload with exit 6 and one error line`,
    async () => {
      await using server = await startServer();
      await using work = await tempDir();
      const file = `${work.path}/growing.bin`;
      const size = 24 * MiB; // three 8 MiB chunks
      await generate(file, size, 17);
      const at = chunk === "the last chunk" ? 16 * MiB : 8 * MiB;
      let changed = false;
      await using recorder = HttpRecorder.start({
        target: server.origin,
        beforeForward: async (request) => {
          if (request.method !== "PATCH" || request.uploadOffset !== at || changed) return;
          changed = true;
          using f = await Deno.open(file, { append: true });
          await f.write(new Uint8Array(10).fill(1));
        },
      });
      const run = await client([
        "upload",
        file,
        "--endpoint",
        recorder.url("/files"),
        "--state-dir",
        `${work.path}/state`,
      ]);
      assert.ok(changed, `the client never sent a PATCH at ${at}`);
      assertExit(run, 6);
      const line = assertOneErrorLine(run);
      assert.match(line, /changed/);
      assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
    },
  );
}
