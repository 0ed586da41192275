/**
 * The checksum extensions against the real server process: checksum-trailer over a raw chunked
 * request, and a crash while a checksummed chunk is being received (the data must not change).
 */
import assert from "node:assert/strict";
import { checksumOf } from "../lib/checksum.ts";
import { RawConnection } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { createUpload, fileSize, head, md5, patch, randomBytes } from "./helpers/uploads.ts";
import { pollUntil, withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const OCTETS = "application/offset+octet-stream";

async function trailerPatch(
  url: string,
  path: string,
  offset: number,
  body: Uint8Array,
  trailer: string | undefined,
) {
  await using conn = await RawConnection.connect(url);
  await conn.sendHead("PATCH", path, {
    "Tus-Resumable": "1.0.0",
    "Content-Type": OCTETS,
    "Upload-Offset": String(offset),
    "Transfer-Encoding": "chunked",
    Trailer: "Upload-Checksum",
  });
  await conn.writeChunked(body, { chunkSize: 100_000, end: false });
  await conn.write(`0\r\n${trailer === undefined ? "" : `Upload-Checksum: ${trailer}\r\n`}\r\n`);
  return await conn.readResponse({ timeoutMs: 5000, method: "PATCH" });
}

Deno.test("checksum-trailer: a chunked PATCH is verified against its Upload-Checksum trailer", async () => {
  await using server = await startServer();
  const options = await fetch(server.url, { method: "OPTIONS" });
  await options.body?.cancel();
  assert.match(options.headers.get("tus-extension") ?? "", /checksum-trailer/);

  const source = randomBytes(600_000, 31);
  const upload = await createUpload(server, source.length);
  const first = source.subarray(0, 300_000);
  const wrong = await trailerPatch(server.url, upload.path, 0, first, checksumOf("sha1", source));
  assert.equal(wrong.status, 460, wrong.text());
  assert.equal(wrong.headers.get("upload-offset"), "0");
  assert.equal(await fileSize(server.dataPath(upload.id)), 0, "a mismatched chunk is discarded");

  const missing = await trailerPatch(server.url, upload.path, 0, first, undefined);
  assert.equal(missing.status, 400, missing.text());
  assert.equal(await fileSize(server.dataPath(upload.id)), 0);

  const ok = await trailerPatch(server.url, upload.path, 0, first, checksumOf("sha256", first));
  assert.equal(ok.status, 204, ok.text());
  assert.equal(ok.headers.get("upload-offset"), "300000");
  const rest = source.subarray(300_000);
  const last = await trailerPatch(server.url, upload.path, 300_000, rest, checksumOf("md5", rest));
  assert.equal(last.status, 204, last.text());
  assert.equal(md5(await Deno.readFile(server.dataPath(upload.id))), md5(source));
});

Deno.test(
  "a crash while a checksummed chunk is being received leaves the upload exactly as it was",
  async () => {
    await using server = await startServer();
    const source = randomBytes(24 * MiB, 32);
    const upload = await createUpload(server, source.length);
    const before = source.subarray(0, 1000);
    assert.equal((await patch(server, upload.path, 0, before)).status, 204);
    const data = server.dataPath(upload.id);
    const chunk = source.subarray(1000, 16 * MiB);

    await using conn = await RawConnection.connect(server.url);
    await conn.sendHead("PATCH", upload.path, {
      "Content-Type": OCTETS,
      "Upload-Offset": "1000",
      "Content-Length": String(chunk.length),
      "Upload-Checksum": checksumOf("sha1", chunk),
    });
    const sending = conn.write(chunk.subarray(0, 8 * MiB)).catch(() => {});
    const dir = data.slice(0, data.lastIndexOf("/"));
    const staged = async () => {
      for await (const e of Deno.readDir(dir)) {
        if (e.name.endsWith(".tmp") && (await Deno.stat(`${dir}/${e.name}`)).size >= MiB) {
          return true;
        }
      }
      return false;
    };
    try {
      assert.ok(await pollUntil(staged, { timeoutMs: 5000 }), "the chunk was never staged");
      assert.equal(await fileSize(data), 1000, "nothing reaches the data before verification");
      const status = await withDeadline(server.kill("SIGKILL"), 5000, "the server to die");
      assert.equal(status.signal, "SIGKILL");
    } finally {
      conn.close();
      await sending;
    }

    await server.restart();
    assert.equal((await head(server, upload.path)).offset, 1000);
    assert.equal(await fileSize(data), 1000);
    const rest = source.subarray(1000);
    const done = await patch(server, upload.path, 1000, rest, {
      "Upload-Checksum": checksumOf("sha256", rest),
    });
    assert.equal(done.status, 204, done.text);
    assert.equal(md5(await Deno.readFile(data)), md5(source));
  },
);
