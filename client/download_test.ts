/**
 * Downloads against a real loopback server that sends part of a body and then falls silent: the
 * stall deadline cuts it and a Range request continues from the bytes already written.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readRequestHead, tcpServer, writeAll } from "../tests/helpers/tcp_server.ts";
import { download } from "./download.ts";

const encoder = new TextEncoder();

Deno.test("a download that stalls mid-body is cut after the stall timeout and continued with Range", async () => {
  const body = new Uint8Array(300_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  const half = 120_000;
  const ranges: (string | undefined)[] = [];
  await using server = tcpServer(async (conn, disposed) => {
    const range = /^range: bytes=(\d+)-$/im.exec(await readRequestHead(conn))?.[1];
    ranges.push(range);
    if (range === undefined) {
      // The first answer: the head and part of the body, then silence with the socket open.
      await writeAll(
        conn,
        encoder.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "v1"\r\n\r\n`),
      );
      await writeAll(conn, body.subarray(0, half));
      await disposed;
      return;
    }
    const from = Number(range);
    await writeAll(
      conn,
      encoder.encode(
        `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length - from}\r\n` +
          `Content-Range: bytes ${from}-${body.length - 1}/${body.length}\r\nETag: "v1"\r\n` +
          `Connection: close\r\n\r\n`,
      ),
    );
    await writeAll(conn, body.subarray(from));
  });
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out.bin`;
    const result = await download(`${server.origin}/f`, out, {
      deadlines: { responseMs: 5000, stallMs: 300 },
      retry: { retries: 2, baseMs: 1, capMs: 1 },
    });
    assert.equal(ranges.length, 2, "one cut, one continuation");
    assert.equal(ranges[0], undefined);
    assert.ok(Number(ranges[1]) >= 1 && Number(ranges[1]) <= half, `continued at ${ranges[1]}`);
    assert.equal(result.size, body.length);
    assert.equal(result.md5, createHash("md5").update(body).digest("hex"));
    assert.equal(result.md5, createHash("md5").update(await Deno.readFile(out)).digest("hex"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
