/**
 * TLS end to end: the real server with `--tls-cert`/`--tls-key` from a throwaway CA, our client
 * (a child process) trusting it with `--ca`, plain HTTP on the TLS port, a certificate renewed
 * with SIGHUP under a live upload, and bad certificate settings.
 */
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { caFetch } from "../client/ca_fetch.ts";
import {
  assertExit,
  completedEvent,
  describeRun,
  digestsOf,
  runClient,
  tempDir,
} from "./helpers/client_cli.ts";
import { runMain, startServer, type TestServer } from "./helpers/server.ts";
import { makeCa } from "./helpers/tls.ts";
import { randomBytes } from "./helpers/uploads.ts";
import { waitFor, withDeadline } from "./helpers/wait.ts";

function tlsArgs(cert: { certFile: string; keyFile: string }): string[] {
  return ["--tls-cert", cert.certFile, "--tls-key", cert.keyFile];
}

/** The SHA-256 fingerprint of the certificate a new connection to the server is shown. */
function servedFingerprint(server: TestServer): Promise<string> {
  return withDeadline(
    new Promise<string>((resolve, reject) => {
      const socket = connect(
        { host: server.hostname, port: server.port, rejectUnauthorized: false },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        },
      );
      socket.once("error", reject);
    }),
    5000,
    "a TLS handshake",
  );
}

Deno.test("our client uploads, reports status and downloads over https, trusting the CA with --ca", async () => {
  await using ca = await makeCa();
  const cert = await ca.issue("server");
  await using server = await startServer({ args: tlsArgs(cert) });
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+\/files$/);
  await using dir = await tempDir();
  const file = `${dir.path}/in.bin`;
  await Deno.writeFile(file, randomBytes(300_000));
  const state = ["--state-dir", `${dir.path}/state`];

  const refused = await runClient([
    "upload",
    file,
    "--endpoint",
    server.url,
    "--retries",
    "0",
    ...state,
  ]);
  assertExit(refused, 4); // without --ca the private CA is not trusted: a network failure

  const up = await runClient([
    "upload",
    file,
    "--endpoint",
    server.url,
    "--ca",
    ca.caFile,
    "--chunk-size",
    "100000",
    ...state,
    "--json",
  ]);
  assertExit(up, 0);
  const done = completedEvent(up);
  assert.match(done.url, /^https:\/\//, "the server hands out https URLs");
  assert.equal(done.verified, "digest");

  const status = await runClient(["status", done.url, "--ca", ca.caFile, "--json"]);
  assertExit(status, 0);
  assert.equal(JSON.parse(status.stdout).offset, 300_000, describeRun(status));

  const out = `${dir.path}/out.bin`;
  const down = await runClient(["download", done.url, out, "--ca", ca.caFile]);
  assertExit(down, 0);
  assert.deepEqual(await digestsOf(out), await digestsOf(file));
});

Deno.test("plain HTTP to the TLS port gets no HTTP answer, and the server keeps serving", async () => {
  await using ca = await makeCa();
  await using server = await startServer({ args: tlsArgs(await ca.issue("server")) });
  const fetchTls = await caFetch(ca.caFile);
  for (let i = 0; i < 3; i++) {
    using conn = await Deno.connect({ hostname: server.hostname, port: server.port });
    await conn.write(new TextEncoder().encode("OPTIONS /files HTTP/1.1\r\nHost: x\r\n\r\n"));
    // The handshake fails: at most a TLS alert comes back, then the connection closes.
    const received: number[] = [];
    const buffer = new Uint8Array(1024);
    await withDeadline(
      (async () => {
        for (;;) {
          const n = await conn.read(buffer).catch(() => null);
          if (n === null) return;
          received.push(...buffer.subarray(0, n));
        }
      })(),
      5000,
      "the server to close a plaintext connection",
    );
    assert.doesNotMatch(new TextDecoder().decode(new Uint8Array(received)), /HTTP\/1/);
  }
  const res = await fetchTls(server.url, { method: "OPTIONS" });
  await res.body?.cancel();
  assert.equal(res.status, 204);
  assert.equal(server.exited, false);
});

Deno.test("a connection that never finishes its TLS handshake is cut after --idle-timeout", async () => {
  await using ca = await makeCa();
  await using server = await startServer({
    args: [...tlsArgs(await ca.issue("server")), "--idle-timeout", "1s"],
  });
  using conn = await Deno.connect({ hostname: server.hostname, port: server.port });
  const closed = conn.read(new Uint8Array(16)).catch(() => null);
  assert.equal(await withDeadline(closed, 10_000, "the silent connection to be closed"), null);
});

Deno.test("SIGHUP presents a renewed certificate to new connections while an upload in flight completes", async () => {
  await using ca = await makeCa();
  const first = await ca.issue("first");
  const second = await ca.issue("second");
  // The server reads the same paths on every SIGHUP: renewal replaces the files.
  const live = { certFile: `${ca.dir}/live.pem`, keyFile: `${ca.dir}/live.key` };
  await Deno.copyFile(first.certFile, live.certFile);
  await Deno.copyFile(first.keyFile, live.keyFile);
  await using server = await startServer({ args: tlsArgs(live) });
  assert.equal(await servedFingerprint(server), first.fingerprint256);
  const fetchTls = await caFetch(ca.caFile);

  // The store writes in 1 MiB pieces: the first half is more, so some of it shows as received.
  const data = randomBytes(3 * 1024 * 1024);
  const half = data.length / 2;
  const created = await fetchTls(server.url, {
    method: "POST",
    headers: { "Tus-Resumable": "1.0.0", "Upload-Length": String(data.length) },
  });
  assert.equal(created.status, 201);
  const url = created.headers.get("location")!;
  assert.match(url, /^https:\/\//);
  // A streaming PATCH: the first half now, the rest only after the renewal.
  const rest = Promise.withResolvers<void>();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(data.slice(0, half));
      await rest.promise;
      controller.enqueue(data.slice(half));
      controller.close();
    },
  });
  const patching = fetchTls(url, {
    method: "PATCH",
    headers: {
      "Tus-Resumable": "1.0.0",
      "Upload-Offset": "0",
      "Content-Type": "application/offset+octet-stream",
      "Content-Length": String(data.length),
    },
    body,
  });
  patching.catch(() => {}); // observed below
  // The status endpoint takes no lock, so it doesn't disturb the PATCH.
  await waitFor(async () => {
    const res = await fetchTls(`${url}/status`);
    return res.ok && (await res.json()).received > 0;
  }, { message: "the first half of the PATCH to arrive" });

  await Deno.copyFile(second.certFile, live.certFile);
  await Deno.copyFile(second.keyFile, live.keyFile);
  server.process.kill("SIGHUP");
  await waitFor(async () => (await servedFingerprint(server)) === second.fingerprint256, {
    message: "new connections to be shown the renewed certificate",
  });

  rest.resolve();
  const patched = await withDeadline(patching, 10_000, "the PATCH in flight to be answered");
  await patched.body?.cancel();
  assert.equal(patched.status, 204);
  assert.equal(patched.headers.get("upload-offset"), String(data.length));

  // A broken renewal (a key of another certificate) is logged; the current certificate stays.
  await Deno.copyFile(first.keyFile, live.keyFile);
  server.process.kill("SIGHUP");
  await waitFor(() => /tls certificate reload failed/.test(server.stderr), {
    message: "the failed reload to be logged",
  });
  assert.equal(await servedFingerprint(server), second.fingerprint256);
  assert.equal(server.exited, false);
});

Deno.test("bad TLS settings exit 2 with one line naming the flag", async () => {
  await using ca = await makeCa();
  const a = await ca.issue("a");
  const b = await ca.issue("b");
  await using dir = await tempDir();
  const cases: [string[], RegExp][] = [
    [["--tls-cert", `${dir.path}/missing.pem`, "--tls-key", a.keyFile], /--tls-cert/],
    [["--tls-cert", a.certFile, "--tls-key", `${dir.path}/missing.key`], /--tls-key/],
    [["--tls-cert", a.certFile, "--tls-key", b.keyFile], /--tls-key .*not the key of --tls-cert/],
    [["--tls-cert", a.keyFile, "--tls-key", a.keyFile], /--tls-cert .*not a PEM certificate/],
    [["--tls-cert", a.certFile, "--tls-key", a.certFile], /--tls-key .*not a PEM private key/],
    [["--tls-cert", a.certFile], /--tls-cert needs --tls-key/],
  ];
  for (const [flags, expected] of cases) {
    const run = await runMain(["server", "--port", "0", "--dir", `${dir.path}/data`, ...flags]);
    const why = `${flags.join(" ")}\n${run.stderr}`;
    assert.equal(run.code, 2, why);
    assert.equal(run.stderr.trim().split("\n").length, 1, why);
    assert.match(run.stderr, expected, why);
    assert.equal(run.stdout, "", why);
  }
});
