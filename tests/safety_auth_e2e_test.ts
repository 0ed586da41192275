/**
 * Bearer-token auth and ownership against the real server process: a missing or invalid token is
 * 401, another owner's upload is 404 exactly like a missing one, and the client sends its token.
 */
import assert from "node:assert/strict";
import { assertExit, describeRun, eventsOf, tempDir } from "./helpers/client_cli.ts";
import { ClientProcess, forgeJwt, mintToken, nowSeconds } from "./helpers/safety.ts";
import { startServer } from "./helpers/server.ts";
import { listFiles, md5, offsetOf, randomBytes } from "./helpers/uploads.ts";
import { holdPatch } from "./helpers/held_patch.ts";
import {
  call,
  CLIENT_TIMEOUT_MS,
  create,
  KiB,
  OCTETS,
  patchAt,
  SECRET,
} from "./helpers/safety_http.ts";

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
