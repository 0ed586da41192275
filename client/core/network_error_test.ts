/** Real fetch failures (as Deno reports them) put into words. */
import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { closedPort, tcpServer } from "../../tests/helpers/tcp_server.ts";
import { networkWords } from "./network_error.ts";

/** What fetch threw for `url` (it must fail). */
async function failure(url: string): Promise<unknown> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
  } catch (error) {
    return error;
  }
  throw new Error(`fetch ${url} answered`);
}

Deno.test("a closed port is 'connection refused', naming the URL", async () => {
  const url = `http://127.0.0.1:${closedPort()}/files`;
  assert.equal(
    networkWords(await failure(url), url),
    `connection refused: is the server running at ${url}?`,
  );
});

Deno.test("a name that doesn't resolve is a DNS failure", async () => {
  const url = "http://no-such-host.invalid/files";
  assert.equal(
    networkWords(await failure(url), url),
    "DNS lookup of no-such-host.invalid failed: is the host name right?",
  );
});

Deno.test("https to a plain-HTTP port is a TLS failure, with the reason", async () => {
  await using server = tcpServer(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
  });
  const url = server.origin.replace("http:", "https:") + "/files";
  assert.match(
    networkWords(await failure(url), url),
    /^TLS with 127\.0\.0\.1:\d+ failed \(.+\): is it https, with a trusted certificate\?$/,
  );
});

Deno.test("a connection closed before any answer is a reset", async () => {
  await using server = tcpServer(() => Promise.resolve()); // closes each connection at once
  const url = `${server.origin}/files`;
  assert.match(
    networkWords(await failure(url), url),
    /^the connection to 127\.0\.0\.1:\d+ was reset$/,
  );
});

Deno.test("a deadline keeps its own words; a browser's bare TypeError says it gives no reason", () => {
  const timeout = new UploadError(0, "timeout", "no response to POST within 30 s");
  assert.equal(networkWords(timeout, "http://x.test/files"), "no response to POST within 30 s");
  assert.equal(
    networkWords(new TypeError("Failed to fetch"), "https://x.test/files"),
    "could not reach https://x.test (the browser gives no reason)",
  );
  assert.equal(
    networkWords(new Error("something odd"), "http://x.test/files"),
    "network error talking to x.test: something odd",
  );
});
