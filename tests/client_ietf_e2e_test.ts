/**
 * Our client speaking the IETF draft to our server: every interop version it offers
 * (`--ietf-version 3` to `8`, traffic observed through the recording proxy), and a creation that
 * carries data, cut mid-body by the TCP proxy, resumed from the URL of the server's 104.
 */
import assert from "node:assert/strict";
import {
  assertExit,
  type ClientEvent,
  completedEvent,
  describeRun,
  eventsOf,
  idOf,
  runClient,
  startClient,
} from "./helpers/client_cli.ts";
import { ClientFixture, MiB } from "./helpers/client_runs.ts";
import { randomBytes } from "./helpers/uploads.ts";

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
  await using fx = await ClientFixture.start();
  const recorder = fx.record();
  const source = await fx.write("draft.bin", randomBytes(2 * MiB + 5, 1601));

  for (const version of [3, 4, 5, 6, 7, 8]) {
    recorder.clear();
    const run = await runClient([
      "upload",
      source.path,
      "--endpoint",
      fx.endpoint,
      "--state-dir",
      fx.path(`state-${version}`),
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
  await using fx = await ClientFixture.start();
  const proxy = fx.proxy();
  const source = await fx.write("cut.bin", randomBytes(12 * MiB + 3, 1602));
  // The creation request passes its head and 1 MiB of its 8 MiB body, then nothing more.
  proxy.holdUpstreamAfter(MiB);

  await using live = startClient(
    fx.upload(
      source.path,
      "--json",
      "--protocol",
      "ietf",
      "--chunk-size",
      "8MiB",
      "--retries",
      "2",
    ),
  );
  // The 104 reached the client while its body is still going: then the connection dies.
  await live.line((line) => (JSON.parse(line) as ClientEvent).type === "created", 20_000);
  proxy.cutAll();
  const run = await live.done(30_000);
  assertExit(run, 0);
  const events = eventsOf(run);
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
  await fx.assertStored(idOf(url), source.md5);
});
