/**
 * End-to-end tests of issue 5, "Safe to expose", against the real server process: bearer-token
 * auth and ownership (others' uploads are 404, exactly like missing ones), admission control
 * (`--max-active`: 503 + Retry-After at once, honoured by the client), `--idle-timeout` for stalled
 * bodies and slowloris heads, header count/size limits (431), `--allow-types` sniffing (415, the
 * upload discarded, the client stops with the message) and `--quota` per owner (413).
 *
 * Nothing sleeps to synchronise: tests wait on files, responses, closes and client output, each
 * with a deadline. The only timed pauses pace a deliberately slow (slowloris) sender.
 */

import assert from "node:assert/strict";
import { assertExit, describeRun, eventsOf, tempDir } from "./helpers/client_cli.ts";
import { RawConnection, rawRequest } from "./helpers/raw_http.ts";
import { ClientProcess, forgeJwt, mintToken, nowSeconds } from "./helpers/safety.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import {
  exists,
  fileSize,
  listFiles,
  md5,
  offsetOf,
  randomBytes,
  startPatch,
  streamOf,
} from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const OCTETS = "application/offset+octet-stream";
const SECRET = "s3cret-for-the-e2e-tests-0123456789";
const CLIENT_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Helpers

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** One request via fetch (plain dialect unless headers say otherwise); the body is always read. */
async function call(
  server: TestServer,
  method: string,
  path: string,
  { token, headers = {}, body }: {
    token?: string;
    headers?: Record<string, string>;
    body?: BodyInit;
  } = {},
): Promise<Answer> {
  const all: Record<string, string> = { ...headers };
  if (token !== undefined) all["Authorization"] = `Bearer ${token}`;
  const res = await fetch(server.origin + path, {
    method,
    headers: all,
    ...(body === undefined ? {} : { body }),
  });
  const text = method === "HEAD" ? (await res.body?.cancel(), "") : await res.text();
  return { status: res.status, headers: res.headers, text };
}

interface Created {
  id: string;
  path: string;
  url: string;
}

/** POST (plain dialect); asserts 201. */
async function create(
  server: TestServer,
  headers: Record<string, string>,
  token?: string,
): Promise<Created> {
  const res = await call(server, "POST", "/files", { headers, ...(token ? { token } : {}) });
  assert.equal(res.status, 201, `POST ${JSON.stringify(headers)}: ${res.status} ${res.text}`);
  const url = res.headers.get("location")!;
  const path = new URL(url).pathname;
  return { id: path.split("/").pop()!, path, url };
}

async function patchAt(
  server: TestServer,
  path: string,
  offset: number,
  body: BodyInit,
  token?: string,
): Promise<Answer> {
  return await call(server, "PATCH", path, {
    headers: { "Content-Type": OCTETS, "Upload-Offset": String(offset) },
    body,
    ...(token ? { token } : {}),
  });
}

function metadata(pairs: Record<string, string>): string {
  return Object.entries(pairs).map(([k, v]) => `${k} ${btoa(v)}`).join(",");
}

/** The message of a plain-dialect JSON error. */
function messageOf(answer: Answer): string {
  try {
    return (JSON.parse(answer.text) as { error: { message: string } }).error.message;
  } catch {
    return answer.text;
  }
}

/** A 4 MiB upload with a PATCH held open: 1.5 MiB sent (1 MiB of it provably written), then silence. */
interface HeldPatch extends AsyncDisposable {
  upload: Created;
  source: Uint8Array;
  /** Sends the rest of the body and reads the answer. */
  finish(): Promise<{ status: number; offset: number | undefined; text: string }>;
}

async function holdPatch(server: TestServer, token?: string): Promise<HeldPatch> {
  const source = randomBytes(4 * MiB, 77);
  const upload = await create(server, { "Upload-Length": String(source.length) }, token);
  const conn = await RawConnection.connect(server.url);
  const sent = 1.5 * MiB;
  try {
    await conn.sendHead("PATCH", upload.path, {
      "Content-Type": OCTETS,
      "Upload-Offset": "0",
      "Content-Length": String(source.length),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    });
    await conn.write(source.subarray(0, sent));
    // The store writes in 1 MiB pieces: once the first is in the file, the body is being written.
    await waitFor(async () => ((await fileSize(server.dataPath(upload.id))) ?? 0) >= MiB, {
      message: "the held PATCH to reach the data file",
    });
  } catch (error) {
    await conn[Symbol.asyncDispose]();
    throw error;
  }
  return {
    upload,
    source,
    async finish() {
      await conn.write(source.subarray(sent));
      const res = await conn.readResponse({ timeoutMs: 10_000 });
      return { status: res.status, offset: offsetOf(res.headers), text: res.text() };
    },
    async [Symbol.asyncDispose]() {
      await conn[Symbol.asyncDispose]();
    },
  };
}

/** A PNG: its signature and an IHDR chunk, then filler. */
function pngBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size, seed);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  bytes.set([0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0], 8);
  return bytes;
}

/** A ZIP local file header, then filler. */
function zipBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size, seed);
  bytes.set([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]);
  return bytes;
}

/** An ELF executable header, then filler. */
function elfBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size, seed);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]);
  return bytes;
}

/** Data and info files of the upload are both gone. */
/** The upload's bytes are gone and only a tombstone says it was terminated. */
async function assertGone(server: TestServer, id: string, what: string): Promise<void> {
  assert.equal(await exists(server.dataPath(id)), false, `${what}: data file left behind`);
  const info = JSON.parse(await Deno.readTextFile(server.infoPath(id)));
  assert.equal(info.ended?.state, "terminated", `${what}: not a tombstone`);
}

// ---------------------------------------------------------------------------------------------
// Auth and ownership

Deno.test(
  "auth: main.ts token mints a JWT the server accepts; a missing or invalid token gets 401 with WWW-Authenticate; OPTIONS stays open",
  async () => {
    await using server = await startServer({ args: ["--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);
    const aliceHour = await mintToken("alice", SECRET, "1h");
    const { exp } = JSON.parse(
      atob(aliceHour.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")),
    );
    assert.ok(Math.abs(exp - (nowSeconds() + 3600)) < 120, `--ttl 1h gave exp ${exp}`);

    // No token at all: 401 with a Bearer challenge, for every method but OPTIONS.
    const someId = "0123456789abcdef0123456789abcdef";
    for (
      const [method, path] of [
        ["POST", "/files"],
        ["HEAD", `/files/${someId}`],
        ["PATCH", `/files/${someId}`],
        ["DELETE", `/files/${someId}`],
        ["GET", `/files/${someId}`],
        ["GET", `/files/${someId}/status`],
      ] as const
    ) {
      const res = await call(server, method, path, {
        headers: method === "POST"
          ? { "Upload-Length": "10" }
          : method === "PATCH"
          ? { "Content-Type": OCTETS, "Upload-Offset": "0" }
          : {},
      });
      assert.equal(res.status, 401, `${method} ${path} without a token: ${res.text}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer\b/, `${method} ${path}`);
    }
    assert.equal((await listFiles(server.dir)).length, 0, "a refused POST created nothing");

    // Tokens that must not pass.
    const now = nowSeconds();
    const bad: Record<string, string> = {
      "garbage": "not-a-token",
      "three garbage parts": "aaa.bbb.ccc",
      "another secret": forgeJwt({ sub: "alice", iat: now }, "some-other-secret-0123456789"),
      "expired": forgeJwt({ sub: "alice", iat: now - 7200, exp: now - 3600 }, SECRET),
      "not yet valid": forgeJwt({ sub: "alice", iat: now, nbf: now + 3600 }, SECRET),
      "alg none": forgeJwt({ sub: "alice", iat: now }, undefined, { alg: "none", typ: "JWT" }),
      "no sub": forgeJwt({ iat: now }, SECRET),
      "tampered payload": (() => {
        const [h, , s] = alice.split(".");
        const body = btoa(JSON.stringify({ sub: "mallory" })).replace(/=+$/, "");
        return `${h}.${body}.${s}`;
      })(),
    };
    for (const [why, token] of Object.entries(bad)) {
      const res = await call(server, "POST", "/files", {
        token,
        headers: { "Upload-Length": "10" },
      });
      assert.equal(res.status, 401, `${why}: ${res.text}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer\b.*invalid_token/, why);
    }
    // "Basic" is not a bearer token.
    const basic = await call(server, "POST", "/files", {
      headers: { "Upload-Length": "10", Authorization: `Basic ${btoa("alice:pw")}` },
    });
    assert.equal(basic.status, 401, basic.text);
    assert.equal((await listFiles(server.dir)).length, 0, "refused POSTs created nothing");

    // A small clock skew is tolerated (an hour is not: above).
    for (
      const [why, claims] of [
        ["expired 20 s ago", { sub: "alice", exp: now - 20 }],
        ["valid from 20 s from now", { sub: "alice", nbf: now + 20, exp: now + 3600 }],
      ] as const
    ) {
      const skewed = await call(server, "POST", "/files", {
        token: forgeJwt(claims, SECRET),
        headers: { "Upload-Length": "1" },
      });
      assert.equal(skewed.status, 201, `${why}: ${skewed.text}`);
    }

    // The minted tokens work (with and without --ttl).
    for (const token of [alice, aliceHour]) {
      const upload = await create(server, { "Upload-Length": "5" }, token);
      assert.equal((await patchAt(server, upload.path, 0, "hello", token)).status, 204);
      const got = await call(server, "GET", upload.path, { token });
      assert.equal(got.status, 200);
      assert.equal(got.text, "hello");
    }

    // OPTIONS (discovery and CORS preflight) needs no token.
    const options = await call(server, "OPTIONS", "/files", {
      headers: { "Tus-Resumable": "1.0.0" },
    });
    assert.equal(options.status, 204, options.text);
    assert.equal(options.headers.get("tus-version"), "1.0.0");
    const preflight = await call(server, "OPTIONS", `/files/${someId}`, {
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, upload-offset",
      },
    });
    assert.ok(
      preflight.status === 200 || preflight.status === 204,
      `preflight ${preflight.status}`,
    );
    assert.ok(preflight.headers.get("access-control-allow-origin"), "preflight allows the origin");
  },
);

Deno.test(
  "auth: another owner's upload is 404 for HEAD, PATCH, DELETE, GET, status and as a concat part, exactly like one that doesn't exist",
  async () => {
    await using server = await startServer({ args: ["--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);
    const bob = await mintToken("bob", SECRET);
    const content = randomBytes(1000, 11);

    const open = await create(server, { "Upload-Length": "1000" }, alice);
    assert.equal(
      (await patchAt(server, open.path, 0, content.subarray(0, 500), alice)).status,
      204,
    );
    const done = await create(server, { "Upload-Length": "1000" }, alice);
    assert.equal((await patchAt(server, done.path, 0, content, alice)).status, 204);
    const part = await create(
      server,
      { "Upload-Length": "1000", "Upload-Concat": "partial" },
      alice,
    );
    assert.equal((await patchAt(server, part.path, 0, content, alice)).status, 204);
    const missing = "fedcba9876543210fedcba9876543210";

    // Bob's view of Alice's uploads, next to his view of an id that doesn't exist at all.
    const probes: [string, string, Record<string, string>, BodyInit | undefined][] = [
      ["HEAD", "", {}, undefined],
      ["GET", "", {}, undefined],
      ["GET", "/status", {}, undefined],
      ["PATCH", "", { "Content-Type": OCTETS, "Upload-Offset": "500" }, content.slice(500)],
      ["PATCH", "", { "Content-Type": OCTETS, "Upload-Offset": "0" }, content.slice(0, 10)],
      ["PATCH", "", { "Content-Type": OCTETS, "Upload-Offset": "1000" }, new Uint8Array(0)],
      ["DELETE", "", {}, undefined],
      ["POST", "", { "X-HTTP-Method-Override": "DELETE" }, undefined],
      ["HEAD", "", { "Tus-Resumable": "1.0.0" }, undefined],
      ["DELETE", "", { "Tus-Resumable": "1.0.0" }, undefined],
    ];
    for (const target of [open, done, part]) {
      for (const [method, sub, headers, body] of probes) {
        const what = `bob: ${method} ${JSON.stringify(headers)} ${target.path}${sub}`;
        const theirs = await call(server, method, `${target.path}${sub}`, {
          token: bob,
          headers,
          ...(body === undefined ? {} : { body }),
        });
        const none = await call(server, method, `/files/${missing}${sub}`, {
          token: bob,
          headers,
          ...(body === undefined ? {} : { body }),
        });
        assert.equal(theirs.status, 404, `${what}: ${theirs.text}`);
        assert.equal(
          theirs.text.replaceAll(target.id, "<id>"),
          none.text.replaceAll(missing, "<id>"),
          `${what}: the answer differs from a missing upload's`,
        );
        for (const name of ["upload-offset", "upload-length", "upload-metadata", "repr-digest"]) {
          assert.equal(theirs.headers.get(name), null, `${what} reveals ${name}`);
        }
      }
    }

    // Nor can Bob use Alice's part in a final upload of his.
    const concat = async (url: string) =>
      await call(server, "POST", "/files", {
        token: bob,
        headers: { "Upload-Concat": `final;${url}` },
      });
    const withTheirs = await concat(part.url);
    const withNone = await concat(`${server.url}/${missing}`);
    assert.ok(withTheirs.status >= 400 && withTheirs.status < 500, withTheirs.text);
    assert.equal(withTheirs.status, withNone.status);
    assert.equal(
      withTheirs.text.replaceAll(part.id, "<id>"),
      withNone.text.replaceAll(missing, "<id>"),
      "concatenating someone else's part answers as for a missing part",
    );
    const partInfo = JSON.parse(await Deno.readTextFile(server.infoPath(part.id)));
    assert.equal(partInfo.concat?.finals, undefined, "Bob's final was registered on Alice's part");

    // Alice's uploads are untouched and still hers.
    const headOpen = await call(server, "HEAD", open.path, { token: alice });
    assert.equal(headOpen.status, 200);
    assert.equal(offsetOf(headOpen.headers), 500);
    assert.equal(md5(await Deno.readFile(server.dataPath(open.id))), md5(content.subarray(0, 500)));
    const got = await fetch(server.origin + done.path, {
      headers: { Authorization: `Bearer ${alice}` },
    });
    assert.equal(got.status, 200);
    assert.equal(md5(new Uint8Array(await got.arrayBuffer())), md5(content));
    assert.equal(md5(await Deno.readFile(server.dataPath(done.id))), md5(content));
    // Alice can concatenate her own part, then delete her things.
    const own = await call(server, "POST", "/files", {
      token: alice,
      headers: { "Upload-Concat": `final;${part.url}` },
    });
    assert.equal(own.status, 201, own.text);
    for (const target of [open, done]) {
      assert.equal((await call(server, "DELETE", target.path, { token: alice })).status, 204);
    }
  },
);

Deno.test(
  "auth: a stranger's HEAD or DELETE of an upload doesn't stop its owner's PATCH in flight",
  async () => {
    await using server = await startServer({ args: ["--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);
    const bob = await mintToken("bob", SECRET);
    await using held = await holdPatch(server, alice);

    for (const method of ["HEAD", "DELETE", "PATCH"]) {
      const res = await call(server, method, held.upload.path, {
        token: bob,
        headers: method === "PATCH" ? { "Content-Type": OCTETS, "Upload-Offset": "0" } : {},
        ...(method === "PATCH" ? { body: "x" } : {}),
      });
      assert.equal(res.status, 404, `bob's ${method}: ${res.text}`);
    }
    const done = await held.finish();
    assert.equal(done.status, 204, done.text);
    assert.equal(
      done.offset,
      held.source.length,
      "Alice's PATCH was cut short by Bob's requests for an upload that isn't his",
    );
    assert.equal(md5(await Deno.readFile(server.dataPath(held.upload.id))), md5(held.source));
  },
);

Deno.test(
  "auth: the client uploads with --token and with RESUMABLE_TOKEN; without a token it exits 5 and says why",
  async () => {
    await using server = await startServer({ args: ["--auth-secret", SECRET] });
    await using dir = await tempDir("resumable-safety-");
    const alice = await mintToken("alice", SECRET);
    const bob = await mintToken("bob", SECRET);
    const file = `${dir.path}/data.bin`;
    const source = randomBytes(300 * KiB + 7, 21);
    await Deno.writeFile(file, source);
    const base = ["upload", file, "--endpoint", server.url, "--json", "--chunk-size", "64KiB"];

    const runs = [
      ["--token", await withFlag(base, "--token", alice, `${dir.path}/state-a`)],
      ["RESUMABLE_TOKEN", await withEnv(base, { RESUMABLE_TOKEN: alice }, `${dir.path}/state-b`)],
    ] as const;
    for (const [how, run] of runs) {
      assertExit(run, 0);
      const completed = eventsOf(run).find((e) => e.type === "completed");
      assert.ok(completed, `${how}: no completed event\n${describeRun(run)}`);
      assert.equal(completed.md5, md5(source), how);
      const path = new URL(completed.url as string).pathname;
      assert.equal((await call(server, "HEAD", path, { token: alice })).status, 200, how);
      assert.equal((await call(server, "HEAD", path, { token: bob })).status, 404, how);
    }

    const refused = await withEnv(base, {}, `${dir.path}/state-c`);
    assertExit(refused, 5);
    assert.match(refused.stderr, /401/, describeRun(refused));
    assert.match(refused.stderr, /Authorization|token/i, describeRun(refused));
  },
);

async function withFlag(args: string[], flag: string, value: string, stateDir: string) {
  await using run = ClientProcess.spawn([...args, flag, value, "--state-dir", stateDir]);
  return await run.finish(CLIENT_TIMEOUT_MS);
}

async function withEnv(args: string[], env: Record<string, string>, stateDir: string) {
  await using run = ClientProcess.spawn([...args, "--state-dir", stateDir], env);
  return await run.finish(CLIENT_TIMEOUT_MS);
}

// ---------------------------------------------------------------------------------------------
// Admission control

Deno.test(
  "admission: with --max-active 1 a second body gets 503 + Retry-After at once while HEAD, OPTIONS and GET answer; after the first ends PATCH works again",
  async () => {
    await using server = await startServer({ args: ["--max-active", "1"] });
    const small = randomBytes(64 * KiB, 31);
    const other = await create(server, { "Upload-Length": String(small.length) });
    const complete = await create(server, { "Upload-Length": "5" });
    assert.equal((await patchAt(server, complete.path, 0, "hello")).status, 204);

    await using held = await holdPatch(server);

    const started = performance.now();
    const busy = await patchAt(server, other.path, 0, small);
    const took = performance.now() - started;
    assert.equal(busy.status, 503, busy.text);
    const retryAfter = busy.headers.get("retry-after");
    assert.match(retryAfter ?? "", /^\d+$/, "503 carries Retry-After in seconds");
    assert.ok(Number(retryAfter) >= 1);
    assert.ok(took < 1000, `the 503 took ${took.toFixed(0)} ms: it should come at once`);
    assert.equal(offsetOf(busy.headers), 0);
    assert.equal(await fileSize(server.dataPath(other.id)), 0, "the refused body wrote nothing");

    // creation-with-upload is a body too: refused, and no unreachable upload is left behind.
    const before = await listFiles(server.dir);
    const post = await call(server, "POST", "/files", {
      headers: { "Upload-Length": String(small.length), "Content-Type": OCTETS },
      body: small,
    });
    assert.equal(post.status, 503, post.text);
    assert.ok(post.headers.get("retry-after"), "503 on POST carries Retry-After");
    assert.deepEqual(await listFiles(server.dir), before, "the refused POST left files behind");

    // Requests without a body are still served.
    const headOther = await call(server, "HEAD", other.path);
    assert.equal(headOther.status, 200);
    assert.equal(offsetOf(headOther.headers), 0);
    assert.equal((await call(server, "OPTIONS", "/files")).status, 204);
    const got = await call(server, "GET", complete.path);
    assert.equal(got.status, 200);
    assert.equal(got.text, "hello");
    const status = await call(server, "GET", `${held.upload.path}/status`);
    assert.equal(status.status, 200, status.text);
    assert.ok(JSON.parse(status.text).received >= MiB, status.text);
    const noBody = await create(server, { "Upload-Length": "3" });
    assert.ok(noBody.id, "a POST without a body is not a body");

    // The first PATCH finishes; the slot is free again.
    const first = await held.finish();
    assert.equal(first.status, 204, first.text);
    assert.equal(first.offset, held.source.length);
    assert.equal(md5(await Deno.readFile(server.dataPath(held.upload.id))), md5(held.source));
    const again = await patchAt(server, other.path, 0, small);
    assert.equal(again.status, 204, again.text);
    assert.equal(md5(await Deno.readFile(server.dataPath(other.id))), md5(small));
  },
);

Deno.test(
  "admission: the client waits at least Retry-After after a 503 and completes once the slot is free",
  async () => {
    await using server = await startServer({ args: ["--max-active", "1"] });
    await using dir = await tempDir("resumable-safety-");
    const file = `${dir.path}/upload.bin`;
    const source = randomBytes(200 * KiB + 3, 41);
    await Deno.writeFile(file, source);

    await using held = await holdPatch(server);
    // What the server asks for while busy.
    const probe = await create(server, { "Upload-Length": "1" });
    const busy = await patchAt(server, probe.path, 0, "x");
    assert.equal(busy.status, 503, busy.text);
    const retryAfterMs = Number(busy.headers.get("retry-after")) * 1000;
    assert.ok(retryAfterMs >= 1000, `Retry-After ${busy.headers.get("retry-after")}`);

    await using client = ClientProcess.spawn([
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${dir.path}/state`,
      "--json",
    ]);
    const line = await client.waitForLine(
      (l) => l.includes('"type":"retry"'),
      15_000,
      "the client's retry event after the 503",
    );
    const retry = JSON.parse(line) as { delayMs: number; reason: string };
    assert.match(retry.reason, /503/, line);
    assert.ok(
      retry.delayMs >= retryAfterMs,
      `the client waits ${retry.delayMs} ms despite Retry-After ${retryAfterMs / 1000}`,
    );
    // Free the slot while the client waits.
    const first = await held.finish();
    assert.equal(first.status, 204, first.text);

    const run = await client.finish(CLIENT_TIMEOUT_MS);
    assertExit(run, 0);
    const completed = eventsOf(run).find((e) => e.type === "completed");
    assert.ok(completed, describeRun(run));
    assert.equal(completed.md5, md5(source));
  },
);

// ---------------------------------------------------------------------------------------------
// Idle timeout, slowloris, header limits

Deno.test(
  "idle timeout: a PATCH that stalls is cut within seconds; its bytes are kept and the lock and slot released",
  async () => {
    await using server = await startServer({ args: ["--idle-timeout", "1s", "--max-active", "1"] });
    const source = randomBytes(1_000_000, 51);
    const upload = await create(server, { "Upload-Length": String(source.length) });
    const sent = 300_000;

    await using conn = await startPatch(server, upload.path, source.length);
    await conn.write(source.subarray(0, sent));
    const stalled = performance.now();
    const res = await conn.readResponse({ timeoutMs: 5000 });
    const answeredAfter = performance.now() - stalled;
    assert.equal(res.status, 408, res.text());
    assert.equal(offsetOf(res.headers), sent, "the answer states the stored bytes");
    assert.ok(answeredAfter >= 800, `cut after ${answeredAfter.toFixed(0)} ms, before the timeout`);
    assert.ok(answeredAfter < 4000, `cut only after ${answeredAfter.toFixed(0)} ms`);
    await conn.waitForClose({ timeoutMs: 4000 });

    const headRes = await call(server, "HEAD", upload.path);
    assert.equal(offsetOf(headRes.headers), sent);
    const stored = await Deno.readFile(server.dataPath(upload.id));
    assert.equal(stored.length, sent);
    assert.equal(md5(stored), md5(source.subarray(0, sent)));

    // Lock and admission slot are free: the rest goes in at once.
    const started = performance.now();
    const rest = await patchAt(server, upload.path, sent, source.slice(sent));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(offsetOf(rest.headers), source.length);
    assert.ok(performance.now() - started < 2000, "the new PATCH waited for a lock");
    assert.equal(md5(await Deno.readFile(server.dataPath(upload.id))), md5(source));
  },
);

Deno.test(
  "idle timeout: a slowloris connection is closed within 1-3 s, whether silent or trickling header lines, and so is an idle keep-alive connection",
  async () => {
    await using server = await startServer({ args: ["--idle-timeout", "1s"] });
    const upload = await create(server, { "Upload-Length": "10" });

    // One header line, then nothing.
    {
      await using conn = await RawConnection.connect(server.url);
      const opened = performance.now();
      await conn.write(`PATCH ${upload.path} HTTP/1.1\r\nHost: ${server.hostname}\r\n`);
      await conn.waitForClose({ timeoutMs: 3000 });
      const after = performance.now() - opened;
      assert.ok(after >= 800, `closed after ${after.toFixed(0)} ms, before the timeout`);
    }

    // A header line every 200 ms: each arrives in time, the head never completes.
    {
      await using conn = await RawConnection.connect(server.url);
      const opened = performance.now();
      await conn.write(`PATCH ${upload.path} HTTP/1.1\r\nHost: ${server.hostname}\r\n`);
      const trickling = (async () => {
        for (let i = 0; !conn.closed && performance.now() - opened < 5000; i++) {
          try {
            await conn.write(`X-Slow-${i}: ${"x".repeat(10)}\r\n`);
          } catch {
            return; // cut
          }
          // Pacing the attacker, not synchronising the test.
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      try {
        await conn.waitForClose({ timeoutMs: 3000 });
      } finally {
        conn.close();
        await trickling;
      }
      const after = performance.now() - opened;
      assert.ok(after < 3000, `a trickling head kept its connection ${after.toFixed(0)} ms`);
    }

    // A keep-alive connection that goes quiet after a response.
    {
      await using conn = await RawConnection.connect(server.url);
      await conn.sendHead("HEAD", upload.path, {});
      const res = await conn.readResponse({ method: "HEAD" });
      assert.equal(res.status, 200);
      await conn.waitForClose({ timeoutMs: 3000 });
    }

    // Meanwhile, and after, the server serves.
    assert.equal((await call(server, "OPTIONS", "/files")).status, 204);
    assert.equal((await patchAt(server, upload.path, 0, "0123456789")).status, 204);
  },
);

Deno.test(
  "header limits: 200 header fields get 431, a 20 KiB header gets 431, and the server keeps serving",
  async () => {
    await using server = await startServer();
    const fields = (n: number) => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < n; i++) headers[`X-Field-${i}`] = `v${i}`;
      return headers;
    };
    const ok = await rawRequest(server.url, "OPTIONS", "/files", { headers: fields(50) });
    assert.equal(ok.status, 204, "50 fields are fine");

    const many = await rawRequest(server.url, "OPTIONS", "/files", { headers: fields(200) });
    assert.equal(many.status, 431, `200 header fields: ${many.status} ${many.text()}`);

    const big = await rawRequest(server.url, "OPTIONS", "/files", {
      headers: { "X-Big": "a".repeat(20 * KiB) },
    });
    assert.equal(big.status, 431, `a 20 KiB header: ${big.status} ${big.text()}`);

    const bigMetadata = await rawRequest(server.url, "POST", "/files", {
      headers: { "Upload-Length": "10", "Upload-Metadata": `filename ${"QUFB".repeat(5 * KiB)}` },
    });
    assert.equal(bigMetadata.status, 431, `a 20 KiB Upload-Metadata: ${bigMetadata.status}`);
    assert.equal((await listFiles(server.dir)).length, 0);

    assert.equal((await call(server, "OPTIONS", "/files")).status, 204);
    const upload = await create(server, { "Upload-Length": "3" });
    assert.equal((await patchAt(server, upload.path, 0, "abc")).status, 204);
  },
);

// ---------------------------------------------------------------------------------------------
// Content types

const ALLOW = "image/*,application/pdf";

Deno.test(
  "allow-types: a PNG passes; a ZIP, an ELF executable or a PNG declared as PDF get 415 and the upload is discarded",
  async () => {
    await using server = await startServer({ args: ["--allow-types", ALLOW] });

    const png = pngBytes(200 * KiB, 61);
    const good = await create(server, {
      "Upload-Length": String(png.length),
      "Upload-Metadata": metadata({ filename: "a.png", filetype: "image/png" }),
    });
    const stored = await patchAt(server, good.path, 0, png);
    assert.equal(stored.status, 204, stored.text);
    const got = await fetch(server.origin + good.path);
    assert.equal(got.status, 200);
    assert.equal(md5(new Uint8Array(await got.arrayBuffer())), md5(png));

    const refused: [string, Uint8Array<ArrayBuffer>, Record<string, string>, RegExp][] = [
      ["a ZIP", zipBytes(100 * KiB, 62), { filename: "a.zip" }, /application\/zip/],
      ["an ELF executable", elfBytes(100 * KiB, 63), {}, /unrecognised|not allowed|accepts/i],
      ["a ZIP declared as PNG", zipBytes(100 * KiB, 64), { filetype: "image/png" }, /zip/],
      ["a PNG declared as PDF", pngBytes(100 * KiB, 65), { filetype: "application/pdf" }, /pdf/],
    ];
    for (const [what, bytes, meta, says] of refused) {
      const upload = await create(server, {
        "Upload-Length": String(bytes.length),
        ...(Object.keys(meta).length ? { "Upload-Metadata": metadata(meta) } : {}),
      });
      const res = await patchAt(server, upload.path, 0, bytes);
      assert.equal(res.status, 415, `${what}: ${res.text}`);
      assert.match(messageOf(res), says, what);
      assert.equal((await call(server, "HEAD", upload.path)).status, 410, `${what}: still there`);
      await assertGone(server, upload.id, what);
    }

    // The same with the first bytes in the POST (creation-with-upload), and sent chunked.
    const before = await listFiles(server.dir);
    const post = await call(server, "POST", "/files", {
      headers: { "Upload-Length": String(100 * KiB), "Content-Type": OCTETS },
      body: streamOf(zipBytes(100 * KiB, 66), [3, 700, 65536]),
    });
    assert.equal(post.status, 415, post.text);
    assert.deepEqual(await listFiles(server.dir), before, "the refused POST left files behind");

    // A final upload whose first part is a ZIP is refused when assembled, and discarded.
    const zip = zipBytes(10 * KiB, 67);
    const part = await create(server, {
      "Upload-Length": String(zip.length),
      "Upload-Concat": "partial",
    });
    assert.equal((await patchAt(server, part.path, 0, zip)).status, 204);
    const beforeFinal = await listFiles(server.dir);
    const final = await call(server, "POST", "/files", {
      headers: { "Upload-Concat": `final;${part.url}` },
    });
    assert.equal(final.status, 415, final.text);
    assert.deepEqual(
      (await listFiles(server.dir)).filter((f) => !f.endsWith(".info")),
      beforeFinal.filter((f) => !f.endsWith(".info")),
      "the refused final upload left its data behind",
    );
  },
);

Deno.test(
  "allow-types: a disallowed file sent as a partial upload is never served back",
  async () => {
    // Parts are sniffed only when a final upload is assembled (only the first part's first bytes
    // are the file's). A part on its own must then not be a way around the type check.
    await using server = await startServer({ args: ["--allow-types", ALLOW] });
    const zip = zipBytes(10 * KiB, 68);
    const part = await create(server, {
      "Upload-Length": String(zip.length),
      "Upload-Concat": "partial",
      "Upload-Metadata": metadata({ filename: "evil.zip" }),
    });
    assert.equal((await patchAt(server, part.path, 0, zip)).status, 204);
    const got = await fetch(server.origin + part.path);
    const body = new Uint8Array(await got.arrayBuffer());
    assert.ok(
      got.status >= 400 || md5(body) !== md5(zip),
      `GET of a partial upload served the ZIP that --allow-types ${ALLOW} refuses (${got.status})`,
    );
  },
);

Deno.test(
  "allow-types: the client uploading a disallowed file exits 5 with the server's message; an allowed one succeeds",
  async () => {
    await using server = await startServer({ args: ["--allow-types", ALLOW] });
    await using dir = await tempDir("resumable-safety-");
    const zip = `${dir.path}/archive.zip`;
    await Deno.writeFile(zip, zipBytes(150 * KiB, 71));
    const png = `${dir.path}/photo.png`;
    const pngSource = pngBytes(150 * KiB, 72);
    await Deno.writeFile(png, pngSource);
    const args = (file: string) => [
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${dir.path}/state`,
      "--chunk-size",
      "64KiB",
    ];

    {
      await using run = ClientProcess.spawn(args(zip));
      const refused = await run.finish(CLIENT_TIMEOUT_MS);
      assertExit(refused, 5);
      assert.match(refused.stderr, /415/, describeRun(refused));
      assert.match(
        refused.stderr,
        /accepts only image\/\*, application\/pdf/,
        describeRun(refused),
      );
      assert.doesNotMatch(refused.stderr, /retry/i, "a 415 is final, not retried");
      const left = (await listFiles(server.dir)).filter((f) => !f.endsWith("/"));
      for (const file of left) {
        // Created, then refused at its first PATCH: only a tombstone (no byte) may stay.
        assert.ok(file.endsWith(".info"), `the refused upload's bytes stayed: ${file}`);
        const info = JSON.parse(await Deno.readTextFile(`${server.dir}/${file}`));
        assert.equal(info.ended?.state, "terminated", `${file} is not a tombstone`);
      }
    }
    {
      await using run = ClientProcess.spawn([...args(png), "--json"]);
      const accepted = await run.finish(CLIENT_TIMEOUT_MS);
      assertExit(accepted, 0);
      const completed = eventsOf(accepted).find((e) => e.type === "completed");
      assert.equal(completed?.md5, md5(pngSource), describeRun(accepted));
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Quota

Deno.test(
  "quota: per owner, checked at creation (413 naming the quota) and cutting deferred-length writes at it",
  async () => {
    await using server = await startServer({ args: ["--quota", "1MiB", "--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);
    const bob = await mintToken("bob", SECRET);
    const big = String(600 * KiB);

    const first = await create(server, { "Upload-Length": big }, alice);
    const second = await call(server, "POST", "/files", {
      token: alice,
      headers: { "Upload-Length": big },
    });
    assert.equal(second.status, 413, second.text);
    assert.match(messageOf(second), /quota/i);
    assert.ok(!second.headers.get("location"), "no upload was created");
    // Bob has his own quota.
    await create(server, { "Upload-Length": big }, bob);

    // A deferred-length upload grows with its bytes: it is cut where Alice's quota ends.
    const room = MiB - 600 * KiB;
    const deferred = await create(server, { "Upload-Defer-Length": "1" }, alice);
    const source = randomBytes(MiB, 81);
    // Announced too long: refused before a byte is read.
    const announced = await patchAt(server, deferred.path, 0, source, alice);
    assert.equal(announced.status, 413, announced.text);
    assert.match(messageOf(announced), /quota/i);
    assert.equal(await fileSize(server.dataPath(deferred.id)), 0);
    // Streamed (no Content-Length): stored up to the quota, then cut.
    const streamed = await patchAt(server, deferred.path, 0, streamOf(source, [32 * KiB]), alice);
    assert.equal(streamed.status, 413, streamed.text);
    assert.match(messageOf(streamed), /quota/i);
    assert.equal(offsetOf(streamed.headers), room, "cut exactly at the quota");
    const headRes = await call(server, "HEAD", deferred.path, { token: alice });
    assert.equal(offsetOf(headRes.headers), room);
    const stored = await Deno.readFile(server.dataPath(deferred.id));
    assert.equal(stored.length, room);
    assert.equal(md5(stored), md5(source.subarray(0, room)));
    // Full: not another byte.
    const more = await patchAt(server, deferred.path, room, "x", alice);
    assert.equal(more.status, 413, more.text);

    // Deleting frees quota.
    assert.equal((await call(server, "DELETE", first.path, { token: alice })).status, 204);
    await create(server, { "Upload-Length": String(500 * KiB) }, alice);
  },
);

Deno.test(
  "quota: concurrent creations of one owner can't add up to more than the quota",
  async () => {
    await using server = await startServer({ args: ["--quota", "1MiB", "--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);

    // Ten creations of 600 KiB at once: only one fits.
    const creations = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(server, "POST", "/files", {
          token: alice,
          headers: { "Upload-Length": String(600 * KiB) },
        })),
    );
    const created = creations.filter((r) => r.status === 201).length;
    assert.equal(
      created,
      1,
      `${created} uploads of 600 KiB were created against a 1 MiB quota ` +
        `(statuses ${creations.map((r) => r.status).join(" ")})`,
    );
  },
);

Deno.test(
  "quota: deferred-length uploads of one owner streamed at once stop together at the quota",
  async () => {
    await using server = await startServer({ args: ["--quota", "4MiB", "--auth-secret", SECRET] });
    const bob = await mintToken("bob", SECRET);
    const uploads = await Promise.all(
      [0, 1, 2].map(() => create(server, { "Upload-Defer-Length": "1" }, bob)),
    );
    // Three bodies of 3 MiB each, all being written at once: 1.5 MiB of each first.
    const sources = uploads.map((_, i) => randomBytes(3 * MiB, 90 + i));
    const conns: RawConnection[] = [];
    try {
      for (const [i, upload] of uploads.entries()) {
        const conn = await RawConnection.connect(server.url);
        conns.push(conn);
        await conn.sendHead("PATCH", upload.path, {
          "Content-Type": OCTETS,
          "Upload-Offset": "0",
          "Transfer-Encoding": "chunked",
          Authorization: `Bearer ${bob}`,
        });
        await conn.writeChunked(sources[i]!.subarray(0, 1.5 * MiB), { end: false });
      }
      await waitFor(async () => {
        for (const [i, upload] of uploads.entries()) {
          const size = (await fileSize(server.dataPath(upload.id))) ?? 0;
          if (size < MiB && !conns[i]!.closed) return false;
        }
        return true;
      }, { message: "all three PATCHes to be writing" });
      // Then the rest of each.
      await Promise.all(
        conns.map((conn, i) => conn.writeChunked(sources[i]!.subarray(1.5 * MiB)).catch(() => {})),
      );
      const answers = await Promise.all(
        conns.map((conn) => conn.readResponse({ timeoutMs: 10_000 }).catch((e) => String(e))),
      );
      let stored = 0;
      for (const [i, upload] of uploads.entries()) {
        const data = await Deno.readFile(server.dataPath(upload.id));
        assert.equal(md5(data), md5(sources[i]!.subarray(0, data.length)), "stored bytes");
        stored += data.length;
      }
      assert.ok(
        stored <= 4 * MiB,
        `Bob's deferred uploads hold ${stored} bytes against a 4 MiB quota (answers ${
          answers.map((a) => typeof a === "string" ? a : `${a.status}@${offsetOf(a.headers)}`)
            .join(" ")
        })`,
      );
    } finally {
      for (const conn of conns) await conn[Symbol.asyncDispose]();
    }
  },
);
