/**
 * Clients that half-close (TCP FIN after the request, as `nc -N`, some proxies and scripts do):
 * a complete request is still answered and its body stored; a body the FIN cuts short is answered
 * at once with what of it was stored.
 */
import assert from "node:assert/strict";
import { RawConnection } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { createUpload, head, offsetOf, startPatch } from "./helpers/uploads.ts";
import { OFFSET_CONTENT_TYPE } from "../lib/protocol.ts";

const BODY = "0123456789";

async function download(origin: string, path: string): Promise<string> {
  const res = await fetch(origin + path);
  return await res.text();
}

Deno.test("a PATCH followed by FIN gets its 204 and its bytes are stored", async () => {
  await using server = await startServer();
  const upload = await createUpload(server, BODY.length);
  await using conn = await startPatch(server, upload.path, BODY.length);
  await conn.write(BODY);
  await conn.closeWrite();
  const res = await conn.readResponse();
  assert.equal(res.status, 204, res.text());
  assert.equal(offsetOf(res.headers), BODY.length);
  assert.equal((await head(server, upload.path)).offset, BODY.length);
  assert.equal(await download(server.origin, upload.path), BODY);
  // The server closes its side too once it has answered.
  await conn.waitForClose();
});

Deno.test("a chunked PATCH followed by FIN gets its 204 and its bytes are stored", async () => {
  await using server = await startServer();
  const upload = await createUpload(server, BODY.length);
  await using conn = await RawConnection.connect(server.url);
  await conn.sendHead("PATCH", upload.path, {
    "Content-Type": OFFSET_CONTENT_TYPE,
    "Upload-Offset": "0",
    "Transfer-Encoding": "chunked",
  });
  await conn.writeChunked(new TextEncoder().encode(BODY), { chunkSize: 4 });
  await conn.closeWrite();
  const res = await conn.readResponse();
  assert.equal(res.status, 204, res.text());
  assert.equal(await download(server.origin, upload.path), BODY);
});

Deno.test("a HEAD followed by FIN is answered", async () => {
  await using server = await startServer();
  const upload = await createUpload(server, BODY.length);
  // Several times: without half-open support, whether the answer beats the abort is a race.
  for (let i = 0; i < 10; i++) {
    await using conn = await RawConnection.connect(server.url);
    await conn.sendHead("HEAD", upload.path);
    await conn.closeWrite();
    const res = await conn.readResponse({ method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(offsetOf(res.headers), 0);
  }
});

Deno.test("a POST with its body followed by FIN creates the upload with those bytes", async () => {
  await using server = await startServer();
  await using conn = await RawConnection.connect(server.url);
  await conn.sendHead("POST", new URL(server.url).pathname, {
    "Tus-Resumable": "1.0.0",
    "Upload-Length": String(BODY.length),
    "Content-Type": OFFSET_CONTENT_TYPE,
    "Content-Length": String(BODY.length),
  });
  await conn.write(BODY);
  await conn.closeWrite();
  const res = await conn.readResponse();
  assert.equal(res.status, 201, res.text());
  assert.equal(offsetOf(res.headers), BODY.length);
  const path = new URL(res.headers.get("location")!, server.origin).pathname;
  assert.equal((await head(server, path)).offset, BODY.length);
  assert.equal(await download(server.origin, path), BODY);
});

Deno.test("a body cut short by FIN is answered at once with the bytes that arrived", async () => {
  // The idle timeout is long: the answer must come from the FIN, not from the silence.
  await using server = await startServer({ args: ["--idle-timeout", "60s"] });
  const upload = await createUpload(server, 100);
  await using conn = await startPatch(server, upload.path, 100);
  await conn.write(BODY);
  await conn.closeWrite();
  const res = await conn.readResponse({ timeoutMs: 10_000 });
  assert.equal(res.status, 400, res.text());
  assert.equal(offsetOf(res.headers), BODY.length);
  assert.equal((await head(server, upload.path)).offset, BODY.length);
});
