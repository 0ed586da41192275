/**
 * Downloads against a real loopback server that sends part of a body and then falls silent: the
 * stall deadline cuts it and a Range request continues from the bytes already written.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { download } from "./download.ts";

const encoder = new TextEncoder();

Deno.test("a download that stalls mid-body is cut after the stall timeout and continued with Range", async () => {
  const body = new Uint8Array(300_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  const half = 120_000;
  const ranges: (string | undefined)[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const released = Promise.withResolvers<void>();
  const serving = (async () => {
    const conns: Deno.Conn[] = [];
    for (;;) {
      const conn = await listener.accept();
      conns.push(conn);
      const head = await readHead(conn);
      const range = /^range: bytes=(\d+)-$/im.exec(head)?.[1];
      ranges.push(range);
      if (range === undefined) {
        // The first answer: the head and part of the body, then silence with the socket open.
        await conn.write(encoder.encode(
          `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "v1"\r\n\r\n`,
        ));
        await writeAll(conn, body.subarray(0, half));
        continue;
      }
      const from = Number(range);
      await conn.write(encoder.encode(
        `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length - from}\r\n` +
          `Content-Range: bytes ${from}-${body.length - 1}/${body.length}\r\nETag: "v1"\r\n` +
          `Connection: close\r\n\r\n`,
      ));
      await writeAll(conn, body.subarray(from));
      break;
    }
    await released.promise;
    for (const conn of conns) conn.close();
  })();
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out.bin`;
    const result = await download(`http://127.0.0.1:${listener.addr.port}/f`, out, {
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
    listener.close();
    released.resolve();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

async function readHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(16_384);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}
