import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { SEND_BUFFER, sendBuffers, sendFileRegion } from "./file_body.ts";
import { randomBytes } from "../../../tests/helpers/random_bytes.ts";

/** A server answering each request with the SHA-256 (hex) of the body it received. */
function hashingServer() {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const hash = createHash("sha256");
    for await (const chunk of req.body ?? []) hash.update(chunk);
    return new Response(hash.digest("hex"));
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** Sends `length` bytes of `path` from `start`; resolves with the answer once the request closes. */
function put(
  agent: http.Agent,
  port: number,
  region: { path: string; start: number; length: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const outgoing = http.request({
      hostname: "127.0.0.1",
      port,
      method: "PUT",
      agent,
      headers: { "content-length": String(region.length) },
    }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (text: string) => answer += text);
    });
    outgoing.on("error", reject);
    outgoing.on("close", () => resolve(answer));
    sendFileRegion(outgoing, region);
  });
}

Deno.test("sendFileRegion: regions arrive whole, and a series of requests reuses its buffers", async () => {
  const path = await Deno.makeTempFile();
  const server = hashingServer();
  const agent = new http.Agent({ keepAlive: true });
  try {
    // Bytes that never repeat: a buffer refilled while it is still being sent would change them.
    const file = randomBytes(3 * SEND_BUFFER + 100_000);
    await Deno.writeFile(path, file);
    const before = sendBuffers.made;
    const requests = 8;
    for (let i = 0; i < requests; i++) {
      // Odd starts and lengths: a partial last buffer, and a region shorter than one buffer.
      const start = 1000 * i + 17;
      const length = i === requests - 1 ? 4321 : 2 * SEND_BUFFER + 99_999 - i;
      const expected = createHash("sha256").update(file.subarray(start, start + length));
      assert.equal(await put(agent, server.port, { path, start, length }), expected.digest("hex"));
    }
    // Two buffers a request, back in the pool once it closed: at most the previous request's
    // are still out when the next one starts. Fresh buffers per read would be dozens.
    assert.ok(
      sendBuffers.made - before <= 4,
      `${sendBuffers.made - before} buffers allocated for ${requests} requests`,
    );
  } finally {
    agent.destroy();
    await server.close();
    await Deno.remove(path);
  }
});

Deno.test("sendFileRegion: a file shorter than the region fails the request", async () => {
  const path = await Deno.makeTempFile();
  const server = hashingServer();
  const agent = new http.Agent({ keepAlive: true });
  try {
    await Deno.writeFile(path, new Uint8Array(SEND_BUFFER + 10));
    await assert.rejects(
      put(agent, server.port, { path, start: 0, length: 2 * SEND_BUFFER }),
      /is shorter than/,
    );
  } finally {
    agent.destroy();
    await server.close();
    await Deno.remove(path);
  }
});
