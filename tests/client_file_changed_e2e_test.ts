/** The client CLI when the file changed between runs or during the upload. */
import assert from "node:assert/strict";
import {
  assertExit,
  assertOneErrorLine,
  completedEvent,
  describeRun,
  digestsOf,
  eventsOf,
  idOf,
  only,
} from "./helpers/client_cli.ts";
import { client, ClientFixture, MiB } from "./helpers/client_runs.ts";

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
      await using fx = await ClientFixture.start();
      const original = await fx.generate("changing.bin", 16 * MiB, 8);
      const command = fx.upload(original.path, "--json");
      const { url: oldUrl } = await fx.crash(command, "0.5");

      await change.apply(original.path);
      const modified = await digestsOf(original.path);
      assert.notEqual(modified.md5, original.md5);

      const second = await fx.complete(command);
      const events = eventsOf(second);
      assert.equal(only(events, "resumed").length, 0, "the old upload must not be resumed");
      const created = only(events, "created");
      assert.equal(created.length, 1, `expected a new upload\n${describeRun(second)}`);
      assert.notEqual(created[0]!.url, oldUrl);
      const completed = completedEvent(second);
      assert.equal(completed.url, created[0]!.url);
      assert.equal(completed.md5, modified.md5);
      assert.equal(completed.size, modified.size);
      await fx.assertStored(idOf(completed.url), modified.md5);
    },
  );
}

for (const chunk of ["a middle chunk", "the last chunk"] as const) {
  Deno.test(
    `a file that grows while ${chunk} is being sent stops the upload with exit 6 and one error line`,
    async () => {
      await using fx = await ClientFixture.start();
      const size = 24 * MiB; // three 8 MiB chunks
      const { path: file } = await fx.generate("growing.bin", size, 17);
      const at = chunk === "the last chunk" ? 16 * MiB : 8 * MiB;
      let changed = false;
      fx.record({
        beforeForward: async (request) => {
          if (request.method !== "PATCH" || request.uploadOffset !== at || changed) return;
          changed = true;
          using f = await Deno.open(file, { append: true });
          await f.write(new Uint8Array(10).fill(1));
        },
      });
      const run = await client(fx.upload(file));
      assert.ok(changed, `the client never sent a PATCH at ${at}`);
      assertExit(run, 6);
      const line = assertOneErrorLine(run);
      assert.match(line, /changed/);
      assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
    },
  );
}
