/** The test harness itself: a server that cannot start fails fast with its stderr. */

import assert from "node:assert/strict";
import { startServer } from "./helpers/server.ts";

Deno.test("startServer fails with the server's stderr when it never prints the listening line", async () => {
  const started = Date.now();
  await assert.rejects(
    startServer({ args: ["--no-such-flag"], startTimeoutMs: 10_000 }),
    (error: Error) => {
      assert.match(error.message, /Server did not start/);
      assert.match(error.message, /exit code 2/);
      assert.match(error.message, /--no-such-flag/, "the message must carry the server's stderr");
      return true;
    },
  );
  assert.ok(Date.now() - started < 10_000, "a server that exits must not wait for the deadline");
});

Deno.test("a started server is killed and its directory removed on dispose", async () => {
  let root: string;
  let process: Deno.ChildProcess;
  {
    await using server = await startServer();
    root = server.root;
    process = server.process;
    assert.ok((await Deno.stat(server.dir)).isDirectory);
    const res = await fetch(server.url, { method: "OPTIONS" });
    await res.body?.cancel();
    assert.equal(res.status, 204);
  }
  assert.equal((await process.status).signal, "SIGKILL");
  await assert.rejects(Deno.stat(root), Deno.errors.NotFound);
});
