import assert from "node:assert/strict";
import { S3Client } from "./s3_client.ts";

/** An HTTP server that answers its first request and then goes silent (a dead S3). */
function silentAfterOne() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let answered = 0;
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        while ((await conn.read(buffer).catch(() => null)) !== null) {
          if (answered++ === 0) {
            await conn.write(
              new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            );
          } // later requests, on this connection or another: no answer at all
        }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) c.close();
      await serving;
    },
  };
}

Deno.test("S3Client: a request on a reused keep-alive connection that gets no answer fails at the idle timeout", async () => {
  const server = silentAfterOne();
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${server.port}`,
    bucket: "b",
    region: "us-east-1",
    credentials: { accessKeyId: "k", secretAccessKey: "s" },
    idleMs: 300,
    attempts: 1,
  });
  try {
    await s3.ping(); // answered: the connection stays open for reuse
    const started = Date.now();
    await assert.rejects(s3.ping(), /sent nothing/);
    assert.ok(Date.now() - started < 5000, `it took ${Date.now() - started} ms`);
  } finally {
    s3.close();
    await server.close();
  }
});
