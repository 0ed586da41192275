/**
 * `--idle-timeout` for stalled bodies and slowloris heads, and header count/size limits (431),
 * against the real server process. The only timed pauses pace a deliberately slow sender.
 */
import assert from "node:assert/strict";
import { RawConnection, rawRequest } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { listFiles, md5, offsetOf, randomBytes, startPatch } from "./helpers/uploads.ts";
import { call, create, KiB, patchAt } from "./helpers/safety_http.ts";

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
