import assert from "node:assert/strict";
import { requestTrailers, serveHttp } from "./http_node.ts";
import { withDeadline } from "../tests/helpers/wait.ts";

Deno.test("a body the client cuts off reaches the handler whole up to the cut, then errors", async () => {
  const seen = Promise.withResolvers<{ bytes: number; error: string }>();
  const server = await serveHttp({ hostname: "127.0.0.1", port: 0 }, async (req) => {
    // Settles once the connection has closed: whatever arrived is read only after that.
    await requestTrailers(req);
    let bytes = 0;
    let error = "";
    try {
      for await (const chunk of req.body!) bytes += chunk.length;
    } catch (e) {
      error = String(e);
    }
    seen.resolve({ bytes, error });
    return new Response(null, { status: 204 });
  }, () => {});
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const head = "PATCH /files/x HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n";
    const body = new Uint8Array(3000).fill(7);
    for (const part of [new TextEncoder().encode(head), body]) {
      for (let done = 0; done < part.length;) done += await conn.write(part.subarray(done));
    }
    conn.close();
    const { bytes, error } = await withDeadline(seen.promise, 10_000, "the handler's read");
    assert.equal(bytes, body.length, "every byte that arrived");
    assert.match(error, /closed before the request body ended/);
  } finally {
    await server.shutdown(1000);
  }
});
