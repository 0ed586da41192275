/**
 * The fault-injecting TCP proxy itself (against small local TCP servers), and the server keeping
 * exactly the bytes that got through when the network cuts a PATCH mid-body.
 */

import assert from "node:assert/strict";
import { RawConnection } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { TcpProxy } from "./helpers/tcp_proxy.ts";
import { concatBytes } from "./helpers/bytes.ts";
import { tcpServer, writeAll } from "./helpers/tcp_server.ts";
import { createUpload, fileSize, head, md5, randomBytes } from "./helpers/uploads.ts";
import { pollUntil, waitFor, withDeadline } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65_536);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      parts.push(buffer.slice(0, n));
    }
  } catch { /* reset counts as the end */ }
  return concatBytes(...parts);
}

/** A TCP server that sends back what it reads, and half-closes when the client does. */
function echoServer() {
  return tcpServer(async (conn) => {
    const buffer = new Uint8Array(65_536);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      await writeAll(conn, buffer.subarray(0, n));
    }
    await conn.closeWrite();
  });
}

Deno.test("the TCP proxy forwards bytes both ways unchanged", async () => {
  await using echo = echoServer();
  await using proxy = TcpProxy.start({ target: echo });
  const payload = randomBytes(3 * MiB + 5, 30);

  const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
  try {
    const [echoed] = await withDeadline(
      Promise.all([
        readAll(conn),
        writeAll(conn, payload).then(() => conn.closeWrite()),
      ]),
      10_000,
      "the echo through the proxy",
    );
    assert.equal(echoed.length, payload.length);
    assert.equal(md5(echoed), md5(payload));
    assert.equal(proxy.upstreamBytes, payload.length);
    assert.equal(proxy.downstreamBytes, payload.length);
    assert.equal(proxy.connections, 1);
  } finally {
    conn.close();
  }
});

Deno.test("a throttled TCP proxy forwards upstream bytes unchanged, no faster than its rate", async () => {
  await using echo = tcpServer(async (conn) => {
    const buffer = new Uint8Array(65_536);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      await writeAll(conn, buffer.subarray(0, n));
    }
    await conn.closeWrite();
  });
  const rate = 4 * MiB;
  await using proxy = TcpProxy.start({ target: echo, upstreamBytesPerSecond: rate });
  const payload = randomBytes(MiB, 31);
  const started = performance.now();
  const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
  try {
    const [echoed] = await withDeadline(
      Promise.all([readAll(conn), writeAll(conn, payload).then(() => conn.closeWrite())]),
      10_000,
      "the echo through the throttled proxy",
    );
    assert.equal(md5(echoed), md5(payload));
    // The first 8 KiB pass at once; the rest waits for the rate.
    const least = ((payload.length - 8 * 1024) / rate) * 1000;
    assert.ok(performance.now() - started >= least, `took less than ${least} ms`);
  } finally {
    conn.close();
  }
});

Deno.test(
  "the TCP proxy passes exactly N upstream bytes, then closes both sides, once",
  async () => {
    const received: Uint8Array[] = [];
    await using sink = tcpServer(async (conn) => {
      received.push(await readAll(conn));
    });
    await using proxy = TcpProxy.start({ target: sink });
    const limit = 300_001;
    proxy.cutAfterUpstreamBytes(limit);
    const payload = randomBytes(2 * MiB, 31);

    const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
    try {
      // Kernel buffers may take the whole payload, so the write may finish or fail.
      const writing = writeAll(conn, payload).catch(() => {});
      await withDeadline(proxy.cut, 5000, "the cut");
      // The client side is closed by the proxy: its reads end.
      await withDeadline(readAll(conn), 5000, "the client side to be closed");
      await withDeadline(writing, 5000, "the write to end");
    } finally {
      conn.close();
    }
    await pollUntil(() => received.length === 1, { timeoutMs: 5000 });
    assert.equal(received[0]?.length, limit);
    assert.equal(md5(received[0]!), md5(payload.subarray(0, limit)));

    // The cut was one-shot: a new connection passes everything.
    const again = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
    try {
      await writeAll(again, payload.subarray(0, 1000));
      await again.closeWrite();
      await withDeadline(readAll(again), 5000, "the sink to close");
    } finally {
      again.close();
    }
    await pollUntil(() => received.length === 2, { timeoutMs: 5000 });
    assert.equal(received[1]?.length, 1000);
  },
);

Deno.test(
  "the TCP proxy stalls after N upstream bytes with every socket open, then forwards the rest in order",
  async () => {
    await using echo = echoServer();
    await using proxy = TcpProxy.start({ target: echo });
    const limit = 100_003;
    proxy.stallAfterUpstreamBytes(limit);
    const payload = randomBytes(300_000, 33);

    const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
    try {
      const echoed = readAll(conn);
      // The kernel's buffers take all 300 kB while the proxy holds: the write ends, nothing fails.
      await withDeadline(writeAll(conn, payload), 5000, "the write into the stalled proxy");
      await withDeadline(proxy.stalled, 5000, "the stall");
      assert.equal(proxy.upstreamBytes, limit, "exactly the bytes before the stall went through");
      assert.ok(proxy.isStalled);
      // A connection made during the stall is accepted and held too: nothing comes back.
      const late = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
      try {
        await writeAll(late, payload.subarray(0, 10));
        await late.closeWrite();
        await pollUntil(() => proxy.connections === 2, { timeoutMs: 5000 });
        assert.equal(proxy.upstreamBytes, limit, "the held connection forwards nothing");

        proxy.flow();
        await conn.closeWrite();
        const all = await withDeadline(echoed, 5000, "the echo after the stall");
        assert.equal(md5(all), md5(payload), "every byte, in order, after the stall");
        const lateEcho = await withDeadline(readAll(late), 5000, "the held connection's echo");
        assert.equal(md5(lateEcho), md5(payload.subarray(0, 10)));
      } finally {
        late.close();
      }
    } finally {
      conn.close();
    }
  },
);

Deno.test(
  "a PATCH cut off by the network keeps exactly the bytes that arrived, and resumes from there",
  async () => {
    await using server = await startServer();
    await using proxy = TcpProxy.start({ target: server });
    const source = randomBytes(6 * MiB, 32);
    const upload = await createUpload(server, source.length);
    const data = server.dataPath(upload.id);
    const path = upload.path;
    const headers = {
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": "0",
      "Content-Length": String(source.length),
    };

    const requestHead = `PATCH ${path} HTTP/1.1\r\nHost: ${proxy.hostname}:${proxy.port}\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    const arrive = 2 * MiB + 12_345; // body bytes that get through
    proxy.cutAfterUpstreamBytes(new TextEncoder().encode(requestHead).length + arrive);

    await using conn = await RawConnection.connect(proxy);
    await conn.write(requestHead);
    const sending = conn.write(source).catch(() => {});
    await withDeadline(proxy.cut, 10_000, "the proxy to cut the PATCH");
    await conn.waitForClose({ timeoutMs: 5000 });
    await sending;

    // The server sees the body end early and stores all that came, the chunks it had read but not
    // yet written included. Watched on disk: a HEAD meanwhile would stop the PATCH where it is.
    await waitFor(async () => (await fileSize(data)) === arrive, {
      timeoutMs: 30_000,
      message: `${arrive} bytes on disk`,
    });
    const status = await head(server, path);
    assert.equal(status.offset, arrive);
    assert.equal(md5(await Deno.readFile(data)), md5(source.subarray(0, arrive)));

    // The proxy lets later connections through: the client resumes via the same route.
    const res = await fetch(`${proxy.origin}${path}`, {
      method: "PATCH",
      headers: { ...headers, "Upload-Offset": String(arrive) },
      body: source.subarray(arrive),
    });
    await res.body?.cancel();
    assert.equal(res.status, 204);
    assert.equal(md5(await Deno.readFile(data)), md5(source));
  },
);
