/**
 * Hooks end to end: the real server (`main.ts server`) POSTs upload events to a real receiver
 * (`Deno.serve` on port 0), retrying with backoff and across a crash and restart; `pre-create`
 * refusals reach our CLI client, tus-js-client and raw requests; `--on-finish` runs a command with
 * the event on stdin and never interprets metadata.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import * as tus from "tus-js-client";
import { encodeMetadata } from "../lib/metadata.ts";
import { describeRun, runClient, tempDir } from "./helpers/client_cli.ts";
import { type ReceivedHook, startHookReceiver } from "./helpers/hook_receiver.ts";
import { runMain, startServer, type TestServer } from "./helpers/server.ts";
import { waitFor, withDeadline } from "./helpers/wait.ts";

/** Retries after 50 ms, 100 ms, … instead of 1 s, 2 s, … (an internal knob for tests). */
const FAST_RETRIES = { RESUMABLE_HOOK_RETRY_BASE_MS: "50" };
const TUS = { "Tus-Resumable": "1.0.0" };
const OCTET = "application/offset+octet-stream";

const hex = (algorithm: string, data: Uint8Array | string) =>
  createHash(algorithm).update(data).digest("hex");

async function create(server: TestServer, length: number, metadata = ""): Promise<string> {
  const res = await fetch(server.url, {
    method: "POST",
    headers: { ...TUS, "Upload-Length": String(length), "Upload-Metadata": metadata },
  });
  await res.body?.cancel();
  assert.equal(res.status, 201);
  return res.headers.get("location")!;
}

async function patch(url: string, offset: number, data: Uint8Array<ArrayBuffer>): Promise<void> {
  const res = await fetch(url, {
    method: "PATCH",
    headers: { ...TUS, "Upload-Offset": String(offset), "Content-Type": OCTET },
    body: data,
  });
  await res.body?.cancel();
  assert.equal(res.status, 204);
}

const of = (hooks: ReceivedHook[], type: string) => hooks.filter((h) => h.type === type);

Deno.test("a receiver that fails twice gets the event a third time, with every field", async () => {
  const failures = new Map<string, number>();
  // Each post-* event fails twice, then is taken (pre-create, asked of every receiver, passes).
  await using receiver = await startHookReceiver((hook) => {
    if (hook.type === "pre-create") return 204;
    const n = failures.get(hook.event.eventId) ?? 0;
    failures.set(hook.event.eventId, n + 1);
    return n < 2 ? 500 : 200;
  });
  await using server = await startServer({
    args: ["--hook-url", receiver.url],
    env: FAST_RETRIES,
  });
  const metadata = encodeMetadata({ filename: "report.pdf", note: "ünïcode" });
  const url = await create(server, 11, metadata);
  const id = url.split("/").pop()!;

  await waitFor(() => of(receiver.received, "post-create").length >= 3, {
    timeoutMs: 15_000,
    message: "three post-create attempts",
  });
  const created = of(receiver.received, "post-create");
  assert.equal(created.length, 3, "no fourth attempt once one succeeded");
  assert.equal(new Set(created.map((h) => h.event.eventId)).size, 1, "one event, three attempts");
  assert.ok(created[1]!.at - created[0]!.at >= 25, "the first retry waited (base 50 ms, jittered)");
  assert.ok(created[2]!.at - created[1]!.at >= 50, "the second waited about twice as long");
  const event = created[2]!.event;
  assert.equal(created[2]!.key, event.eventId);
  assert.equal(created[2]!.contentType, "application/json");
  assert.deepEqual({ ...event, eventId: "", at: "" }, {
    eventId: "",
    at: "",
    type: "post-create",
    id,
    owner: null,
    size: 11,
    offset: 0,
    metadata: { filename: "report.pdf", note: "ünïcode" },
    digests: null,
    storage: { type: "file", path: server.dataPath(id) },
    url,
  });
  assert.ok(Math.abs(Date.parse(event.at as string) - Date.now()) < 60_000);

  const data = new TextEncoder().encode("hello world");
  await patch(url, 0, data);
  await waitFor(() => of(receiver.received, "post-finish").length >= 3, {
    timeoutMs: 15_000,
    message: "three post-finish attempts",
  });
  const finished = of(receiver.received, "post-finish")[2]!.event;
  assert.equal(finished.id, id);
  assert.equal(finished.offset, 11);
  assert.deepEqual(finished.digests, { md5: hex("md5", data), sha256: hex("sha256", data) });

  const metrics = async () => await (await fetch(`${server.origin}/metrics`)).text();
  await waitFor(async () => /^resumable_hook_backlog 0$/m.test(await metrics()), {
    message: "the backlog to drain",
  });
  const text = await metrics();
  assert.match(text, /^resumable_hook_deliveries_total 2$/m);
  assert.match(text, /^resumable_hook_delivery_failures_total 4$/m);
});

Deno.test("an undelivered event survives a crash: after a restart on the same --dir it is delivered", async () => {
  let healthy = false;
  await using receiver = await startHookReceiver((hook) =>
    healthy || hook.type === "pre-create" ? 200 : 503
  );
  await using server = await startServer({
    args: ["--hook-url", receiver.url],
    env: FAST_RETRIES,
  });
  const url = await create(server, 5);
  const id = url.split("/").pop()!;
  const posts = () => of(receiver.received, "post-create");
  await waitFor(() => posts().length >= 2, { message: "two failed attempts" });
  const eventId = posts()[0]!.event.eventId;

  const status = await server.kill("SIGKILL");
  assert.equal(status.signal, "SIGKILL");
  const attemptsBefore = posts().length;
  healthy = true;
  await server.restart();

  await waitFor(() => posts().length > attemptsBefore, {
    timeoutMs: 15_000,
    message: "delivery after the restart",
  });
  const after = posts().slice(attemptsBefore);
  assert.deepEqual(
    after.map((h) => [h.event.id, h.event.eventId]),
    [[id, eventId]],
    "the same event (receivers dedupe on eventId), delivered once the receiver is back",
  );
  await waitFor(async () => {
    const text = await (await fetch(`${server.origin}/metrics`)).text();
    return /^resumable_hook_backlog 0$/m.test(text);
  }, { message: "the backlog to drain after the restart" });
  const queued = [];
  for await (const f of Deno.readDir(`${server.dir}/.hooks`)) queued.push(f.name);
  assert.deepEqual(queued, [], "a delivered event leaves nothing on disk");

  // And a graceful stop (SIGTERM) with the receiver failing keeps the event for the next run.
  healthy = false;
  const next = await create(server, 5);
  await waitFor(() => posts().some((h) => h.event.url === next), {
    message: "an attempt for the second upload",
  });
  assert.equal((await server.kill("SIGTERM")).code, 0);
  const count = posts().length;
  healthy = true;
  await server.restart();
  await waitFor(() => posts().slice(count).some((h) => h.event.url === next), {
    timeoutMs: 15_000,
    message: "delivery after a graceful restart",
  });
});

Deno.test("pre-create: a receiver's 403 reaches our client, tus-js-client and raw requests, and nothing is created", async () => {
  await using receiver = await startHookReceiver((hook) =>
    hook.type === "pre-create"
      ? new Response("no videos", { status: 403, headers: { "Content-Type": "text/plain" } })
      : 200
  );
  await using server = await startServer({ args: ["--hook-url", receiver.url] });
  await using work = await tempDir();
  const file = `${work.path}/clip.mp4`;
  await Deno.writeFile(file, new Uint8Array(1000));

  const run = await runClient([
    "upload",
    file,
    "--endpoint",
    server.url,
    "--state-dir",
    `${work.path}/state`,
  ]);
  assert.equal(run.code, 5, describeRun(run));
  assert.match(run.stderr, /403/, describeRun(run));
  assert.match(run.stderr, /no videos/, describeRun(run));

  const raw = await fetch(server.url, {
    method: "POST",
    headers: { ...TUS, "Upload-Length": "10" },
  });
  assert.equal(raw.status, 403);
  assert.equal(await raw.text(), "no videos\n");
  const plain = await fetch(server.url, { method: "POST", headers: { "Upload-Length": "10" } });
  assert.equal(plain.status, 403);
  assert.deepEqual(await plain.json(), { error: { code: "hook-refused", message: "no videos" } });

  const refused = Promise.withResolvers<tus.DetailedError>();
  new tus.Upload(Buffer.from("hello"), {
    endpoint: server.url,
    retryDelays: [],
    onError: (error) => refused.resolve(error as tus.DetailedError),
    onSuccess: () => refused.reject(new Error("tus-js-client's upload was accepted")),
  }).start();
  const error = await withDeadline(refused.promise, 15_000, "tus-js-client to fail");
  assert.equal(error.originalResponse?.getStatus(), 403);
  assert.equal(error.originalResponse?.getBody(), "no videos\n");

  const asked = of(receiver.received, "pre-create");
  assert.equal(asked.length, 4);
  assert.deepEqual(asked[0]!.event.metadata, { filename: "clip.mp4", filetype: "video/mp4" });
  assert.equal(asked[0]!.event.size, 1000);
  assert.equal(of(receiver.received, "post-create").length, 0);
  const entries = [];
  for await (const f of Deno.readDir(server.dir)) if (f.name !== ".hooks") entries.push(f.name);
  assert.deepEqual(entries, [], "no upload was stored");
});

Deno.test("pre-create fails closed: with the receiver down, creations get 503 and Retry-After", async () => {
  const gone = await startHookReceiver();
  const url = gone.url;
  await gone[Symbol.asyncDispose]();
  await using server = await startServer({ args: ["--hook-url", url, "--hook-timeout", "2s"] });
  const res = await fetch(server.url, {
    method: "POST",
    headers: { ...TUS, "Upload-Length": "1" },
  });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "10");
  assert.match(await res.text(), /pre-create hook is unavailable/);
  assert.match(server.stderr, /pre-create hook unavailable/);
});

Deno.test("--on-finish gets the event as JSON on stdin; a $(…) in metadata is never run", async () => {
  await using work = await tempDir();
  const out = `${work.path}/finished.json`;
  const pwned = `${work.path}/pwned`;
  await using server = await startServer({
    args: ["--on-finish", `sh -c 'cat > "$1"' sh ${out}`],
    permissions: ["--allow-run=sh"],
  });
  const hostile = `$(touch ${pwned})`;
  const url = await create(server, 3, encodeMetadata({ filename: hostile }));
  await patch(url, 0, new TextEncoder().encode("abc"));
  const event = await waitFor(async () => {
    try {
      return JSON.parse(await Deno.readTextFile(out));
    } catch {
      return undefined; // not there, or not whole yet
    }
  }, { timeoutMs: 15_000, message: "the --on-finish command's output" });
  assert.equal(event.type, "post-finish");
  assert.equal(event.url, url);
  assert.equal(event.metadata.filename, hostile);
  assert.deepEqual(event.digests, { md5: hex("md5", "abc"), sha256: hex("sha256", "abc") });
  await assert.rejects(Deno.stat(pwned), Deno.errors.NotFound);
});

Deno.test("--on-finish without --allow-run for its command stops the server at start, saying so", async () => {
  await using work = await tempDir();
  const run = await runMain([
    "server",
    "--port",
    "0",
    "--dir",
    work.path,
    "--on-finish",
    "notify x",
  ]);
  assert.equal(run.code, 2, run.stderr); // a setting that can't work: exit 2, one line
  assert.match(run.stderr, /--on-finish needs permission to run "notify": .*--allow-run=notify/);
  assert.doesNotMatch(run.stdout, /listening on/);

  const bad = await runMain(["server", "--port", "0", "--dir", work.path, "--on-finish", "x 'y"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /Unterminated '/);
});
