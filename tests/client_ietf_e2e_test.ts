/**
 * Our client speaking the IETF draft to our server: every interop version it offers
 * (`--ietf-version 3` to `8`, traffic observed through the recording proxy), and a creation that
 * carries data, cut mid-body by the TCP proxy, resumed from the URL of the server's 104.
 */
import assert from "node:assert/strict";
import {
  type ClientEvent,
  completedEvent,
  describeRun,
  digestsOf,
  idOf,
  lines,
  runClient,
  tempDir,
} from "./helpers/client_cli.ts";
import { HttpRecorder } from "./helpers/http_recorder.ts";
import { startServer } from "./helpers/server.ts";
import { TcpProxy } from "./helpers/tcp_proxy.ts";
import { randomBytes } from "./helpers/uploads.ts";
import { withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** What each version's requests look like, in the drafts' words. */
const WIRE: Record<number, { field: string; done: string; more: string; type: string | null }> = {
  3: { field: "upload-incomplete", done: "?0", more: "?1", type: null },
  4: { field: "upload-complete", done: "?1", more: "?0", type: null },
  5: { field: "upload-complete", done: "?1", more: "?0", type: null },
  6: { field: "upload-complete", done: "?1", more: "?0", type: "application/partial-upload" },
  7: { field: "upload-complete", done: "?1", more: "?0", type: "application/partial-upload" },
  8: { field: "upload-complete", done: "?1", more: "?0", type: "application/partial-upload" },
};

Deno.test("our client with --ietf-version 3 to 8 uploads in each version's words; MD5 right", async () => {
  await using server = await startServer();
  await using recorder = HttpRecorder.start({ target: server.origin });
  await using work = await tempDir();
  const file = `${work.path}/draft.bin`;
  const size = 2 * MiB + 5;
  await Deno.writeFile(file, randomBytes(size, 1601));
  const source = await digestsOf(file);

  for (const version of [3, 4, 5, 6, 7, 8]) {
    recorder.clear();
    const run = await runClient([
      "upload",
      file,
      "--endpoint",
      recorder.url("/files"),
      "--state-dir",
      `${work.path}/state-${version}`,
      "--json",
      "--protocol",
      "ietf",
      "--ietf-version",
      String(version),
      "--chunk-size",
      "1MiB",
    ]);
    const done = completedEvent(run);
    assert.equal(done.md5, source.md5, `version ${version}`);
    assert.equal(done.verified, "digest");
    await recorder.settled();
    const wire = WIRE[version]!;
    for (const r of recorder.requests) {
      assert.equal(r.headers.get("upload-draft-interop-version"), String(version));
      assert.ok(!r.headers.has("tus-resumable"));
    }
    const [post, ...more] = recorder.requests.filter((r) => r.method !== "HEAD");
    assert.equal(post!.method, "POST");
    assert.equal(post!.bodyBytes, MiB, "the creation carries the first chunk");
    assert.equal(post!.headers.get(wire.field), wire.more, describeRun(run));
    assert.equal(post!.headers.has("upload-length"), version >= 6, "Upload-Length from -05");
    assert.deepEqual(more.map((r) => r.method), ["PATCH", "PATCH"]);
    for (const [i, p] of more.entries()) {
      assert.equal(p.headers.get("content-type"), wire.type, `version ${version} PATCH`);
      assert.equal(p.headers.get(wire.field), i === 1 ? wire.done : wire.more);
      assert.equal(p.status, version <= 6 ? 201 : 204);
    }
  }
});

Deno.test("our client resumes a creation cut mid-body from the Location of the server's 104", async () => {
  await using server = await startServer();
  await using proxy = TcpProxy.start({ target: server });
  await using work = await tempDir();
  const file = `${work.path}/cut.bin`;
  const size = 12 * MiB + 3;
  await Deno.writeFile(file, randomBytes(size, 1602));
  const source = await digestsOf(file);
  // The creation request passes its head and 1 MiB of its 8 MiB body, then nothing more.
  proxy.holdUpstreamAfter(MiB);

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      MAIN,
      "client",
      "upload",
      file,
      "--endpoint",
      `${proxy.origin}/files`,
      "--state-dir",
      `${work.path}/state`,
      "--json",
      "--protocol",
      "ietf",
      "--chunk-size",
      "8MiB",
      "--retries",
      "2",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const events: ClientEvent[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const readEvents = async (until: (e: ClientEvent) => boolean) => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      pending += value;

      const all = pending.split("\n");
      pending = all.pop()!;
      for (const line of lines(all.join("\n"))) {
        events.push(JSON.parse(line));
        if (until(events.at(-1)!)) return true;
      }
    }
  };
  try {
    // The 104 reached the client while its body is still going: then the connection dies.
    const created = await withDeadline(
      readEvents((e) => e.type === "created"),
      20_000,
      "the client's created event (from the 104)",
    );
    if (!created) assert.fail(`the client ended before the 104\n${await stderr}`);
    proxy.cutAll();
    await withDeadline(readEvents(() => false), 30_000, "the client to finish");
    const status = await child.status;
    if (status.code !== 0) {
      assert.fail(`exit ${status.code}: ${JSON.stringify(events)}\n${await stderr}`);
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await stderr.catch(() => "");
  }
  const url = String(events.find((e) => e.type === "created")!.url);
  const resumed = events.filter((e) => e.type === "resumed");
  assert.equal(resumed.length, 1, JSON.stringify(events));
  assert.equal(resumed[0]!.url, url, "resumed the upload the 104 named");
  assert.ok(Number(resumed[0]!.offset) <= MiB, "from the server's offset");
  assert.ok(!events.some((e) => e.type === "restarted"), "never started over");
  const done = events.find((e) => e.type === "completed")!;
  assert.equal(done.url, url);
  assert.equal(done.md5, source.md5);
  assert.equal(done.verified, "digest");
  assert.equal((await digestsOf(server.dataPath(idOf(url)))).md5, source.md5);
});
