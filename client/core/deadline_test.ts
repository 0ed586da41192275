/**
 * Request deadlines against real loopback sockets that misbehave: accept and never answer, stop
 * reading a body, send a head and then nothing.
 */
import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { drain, readRequestHead, tcpServer } from "../../tests/helpers/tcp_server.ts";
import { fetchWithin } from "./deadline.ts";

const encoder = new TextEncoder();

const isTimeout = (pattern: RegExp) => (error: unknown) =>
  error instanceof UploadError && error.code === "timeout" && pattern.test(error.message);

Deno.test("no response head within responseMs: the request is cut with a timeout", async () => {
  await using server = tcpServer(drain);
  const started = performance.now();
  await assert.rejects(
    fetchWithin(fetch, `${server.origin}/x`, { method: "HEAD" }, {
      responseMs: 300,
      stallMs: 10_000,
    }),
    isTimeout(/^no response to HEAD within 0\.3 s$/),
  );
  const took = performance.now() - started;
  assert.ok(took >= 300 && took < 5000, `cut after ${took} ms`);
});

Deno.test("a streamed body nobody takes is cut after stallMs, not at the response deadline", async () => {
  // Reads the head, then stops reading: the socket buffers fill and fetch stops pulling.
  await using server = tcpServer(async (conn, disposed) => {
    await readRequestHead(conn);
    await disposed;
  });
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 65_536;
      controller.enqueue(new Uint8Array(65_536));
    },
  });
  await assert.rejects(
    fetchWithin(fetch, `${server.origin}/x`, { method: "PATCH", body: endless }, {
      responseMs: 60_000,
      stallMs: 500,
    }),
    isTimeout(/^PATCH made no progress sending its body for 0\.5 s$/),
  );
  assert.ok(pulled > 0, "the body was being sent before it stalled");
});

Deno.test("a body sent in one piece is allowed stallMs per MiB on top of responseMs", async () => {
  await using server = tcpServer(drain);
  await assert.rejects(
    fetchWithin(fetch, `${server.origin}/x`, {
      method: "PATCH",
      body: new Uint8Array(1024 * 1024 + 1),
    }, {
      responseMs: 200,
      stallMs: 100,
    }),
    isTimeout(/^no response to PATCH of 1\.00 MiB within 0\.4 s$/),
  );
});

Deno.test("an answer whose body stops coming is cut after stallMs", async () => {
  await using server = tcpServer(async (conn) => {
    await readRequestHead(conn);
    await conn.write(encoder.encode("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\npartial"));
    await drain(conn);
  });
  await assert.rejects(
    fetchWithin(fetch, `${server.origin}/x`, {}, { responseMs: 10_000, stallMs: 300 }),
    isTimeout(/^the answer to GET stalled for 0\.3 s$/),
  );
});

Deno.test("an answer within the deadlines is returned with its body; an abort stays an abort", async () => {
  await using server = tcpServer(async (conn) => {
    const head = await readRequestHead(conn);
    const body = head.startsWith("GET") ? "hello" : "";
    await conn.write(
      encoder.encode(`HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    );
    await drain(conn);
  });
  const answer = await fetchWithin(fetch, `${server.origin}/x`, {}, {
    responseMs: 5000,
    stallMs: 5000,
  });
  assert.equal(answer.status, 404);
  assert.equal(answer.ok, false);
  assert.equal(answer.text, "hello");

  await using silent = tcpServer(drain);
  const stop = new AbortController();
  const request = fetchWithin(fetch, `${silent.origin}/x`, { signal: stop.signal }, {
    responseMs: 60_000,
    stallMs: 60_000,
  });
  stop.abort(new Error("paused"));
  await assert.rejects(request, (e) => e instanceof Error && e.message === "paused");
});
