/**
 * The HTTP edge under clients that misbehave: forbidden methods, clients that vanish before
 * their response, bodies cut mid-way. Nothing may leak (open files, pending requests).
 */
import assert from "node:assert/strict";
import { RawConnection, rawRequest } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import {
  createUpload,
  fileSize,
  head,
  offsetOf,
  patch,
  randomBytes,
  startPatch,
} from "./helpers/uploads.ts";
import { pollUntil, waitFor, withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

/** How many of the process's open descriptors point at `path` (via ls: /proc needs --allow-all). */
async function openDescriptors(pid: number, path: string): Promise<number> {
  const out = await new Deno.Command("ls", { args: ["-l", `/proc/${pid}/fd`] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.endsWith(` ${path}`))
    .length;
}

Deno.test("TRACE and CONNECT are answered 405, not dropped", async () => {
  await using server = await startServer();
  for (const method of ["TRACE", "CONNECT"]) {
    const target = method === "CONNECT" ? "127.0.0.1:1" : "/files";
    const res = await rawRequest(server.url, method, target);
    assert.equal(res.status, 405, method);
  }
});

Deno.test("GET clients that vanish before their download leave no file open", async () => {
  await using server = await startServer();
  const source = randomBytes(16 * MiB, 41);
  const upload = await createUpload(server, source.length);
  assert.equal((await patch(server, upload.path, 0, source)).status, 204);
  const data = await Deno.realPath(server.dataPath(upload.id));
  for (let i = 0; i < 20; i++) {
    const conn = await RawConnection.connect(server.url);
    await conn.sendHead("GET", upload.path, {});
    conn.close();
  }
  const closed = await pollUntil(
    async () => (await openDescriptors(server.process.pid, data)) === 0,
    { timeoutMs: 5000 },
  );
  assert.ok(closed, `${await openDescriptors(server.process.pid, data)} descriptors still open`);
});

Deno.test("PATCHes cut off mid-body don't hold up a graceful shutdown", async () => {
  await using server = await startServer();
  const upload = await createUpload(server, 64 * MiB);
  const data = server.dataPath(upload.id);
  for (let i = 0; i < 3; i++) {
    const conn = await RawConnection.connect(server.url);
    await conn.sendHead("PATCH", upload.path, {
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": String(i * MiB),
      "Content-Length": String(32 * MiB),
    });
    await conn.write(randomBytes(MiB, i));
    // Cut only once the server has stored the megabyte: its request is in the handler.
    assert.ok(
      await pollUntil(async () => ((await fileSize(data)) ?? 0) >= (i + 1) * MiB, {
        timeoutMs: 5000,
      }),
    );
    conn.close();
    // The server sees the cut: its HEAD then reports the stored bytes (lock released).
    assert.equal((await head(server, upload.path)).offset, (i + 1) * MiB);
  }
  const started = Date.now();
  const status = await withDeadline(server.kill("SIGTERM"), 10_000, "the server to stop");
  assert.equal(status.code, 0);
  assert.ok(Date.now() - started < 3000, `shutdown took ${Date.now() - started} ms`);
});

Deno.test("a download that the client stops reading is cut after the idle timeout", async () => {
  await using server = await startServer({ args: ["--idle-timeout", "1s"] });
  const source = randomBytes(32 * MiB, 42);
  const upload = await createUpload(server, source.length);
  // Setup, not under test: with a 1 s idle timeout a busy machine can stall one big PATCH past
  // it, so the bytes go in 1 MiB PATCHes, each resumed from the server's offset if cut.
  await waitFor(async () => {
    const { offset = 0 } = await head(server, upload.path);
    if (offset === source.length) return true;
    await patch(server, upload.path, offset, source.subarray(offset, offset + MiB)).catch(() => {});
    return false;
  }, { timeoutMs: 60_000, intervalMs: 1, message: "the upload to be stored" });
  const data = await Deno.realPath(server.dataPath(upload.id));
  // A raw socket that asks and then never reads: the server's writes back up.
  const conn = await Deno.connect({ hostname: server.hostname, port: server.port });
  try {
    await conn.write(new TextEncoder().encode(`GET ${upload.path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    assert.ok(
      await pollUntil(async () => (await openDescriptors(server.process.pid, data)) === 1, {
        timeoutMs: 5000,
      }),
      "the download started",
    );
    assert.ok(
      await pollUntil(async () => (await openDescriptors(server.process.pid, data)) === 0, {
        timeoutMs: 8000,
      }),
      "the stalled download was cut and its file closed",
    );
  } finally {
    conn.close();
  }
});

Deno.test("a body that falls silent is cut within 1.2 × --idle-timeout of its last byte", async () => {
  const timeoutMs = 3000;
  await using server = await startServer({ args: ["--idle-timeout", `${timeoutMs / 1000}s`] });
  // Well over --min-rate's share of a window (1 KiB/s by default), then nothing.
  const sent = randomBytes(256 * 1024, 43);
  const upload = await createUpload(server, 4 * MiB);
  await using conn = await startPatch(server, upload.path, 4 * MiB);
  await conn.write(sent);
  const written = performance.now();
  const res = await conn.readResponse({ timeoutMs: 4 * timeoutMs });
  const answeredAfter = performance.now() - written;
  assert.equal(res.status, 408, res.text());
  assert.equal(offsetOf(res.headers), sent.length);
  // The server read the last byte no earlier than it was written: never cut before the timeout.
  assert.ok(answeredAfter >= timeoutMs, `cut ${answeredAfter.toFixed(0)} ms after the last byte`);
  // The upper bound by the server's own clock, from the request's start (before its last byte),
  // so that a loaded machine's delays on this side don't count.
  const logged = await waitFor(
    () => server.stderr.split("\n").find((l) => l.includes(`"status":408`)),
    { message: "the PATCH's log line" },
  );
  const { duration_ms } = JSON.parse(logged) as { duration_ms: number };
  assert.ok(duration_ms <= timeoutMs * 1.2, `cut after ${duration_ms} ms`);
});

Deno.test("Expect: 100-continue: a PATCH that will be refused gets its answer instead of 100, and the body is never needed", async () => {
  await using server = await startServer();
  const upload = await createUpload(server, 10 * MiB);
  await patch(server, upload.path, 0, randomBytes(MiB));
  // Refused on its head (a wrong offset, an unknown upload): the answer comes first, no 100
  // Continue, and the connection is closed (the client may never send the body it announced),
  // so no stray body bytes can be read as a request.
  for (
    const [path, offset, status] of [[upload.path, 0, 409], ["/files/0000", MiB, 404]] as const
  ) {
    await using refused = await RawConnection.connect(server.url);
    await refused.sendHead("PATCH", path, {
      "Tus-Resumable": "1.0.0",
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
      "Content-Length": String(8 * MiB),
      Expect: "100-continue",
    });
    const answer = await refused.readResponse({ interim: true });
    assert.equal(answer.status, status, answer.text());
    assert.equal(answer.headers.get("connection"), "close");
    await refused.waitForClose();
  }
  // At the right offset: 100 Continue, and only then the body is read and stored.
  await using right = await RawConnection.connect(server.url);
  await right.sendHead("PATCH", upload.path, {
    "Tus-Resumable": "1.0.0",
    "Upload-Offset": String(MiB),
    "Content-Type": "application/offset+octet-stream",
    "Content-Length": String(MiB),
    Expect: "100-continue",
  });
  const go = await right.readResponse({ interim: true });
  assert.equal(go.status, 100);
  await right.write(randomBytes(MiB));
  const stored = await right.readResponse();
  assert.equal(stored.status, 204, stored.text());
  assert.equal(stored.headers.get("upload-offset"), String(2 * MiB));
  assert.equal(await fileSize(server.dataPath(upload.id)), 2 * MiB);
});
