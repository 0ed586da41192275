/**
 * Small loopback TCP servers for tests of misbehaving peers: one that answers half a response
 * and falls silent, one that accepts and never answers, one that closes at once.
 *
 *     await using server = tcpServer(async (conn, disposed) => {
 *       await readRequestHead(conn);
 *       await disposed; // hold the connection open, unanswered
 *     });
 *     await fetch(`${server.origin}/x`); // hangs until something cuts it
 */

export interface TcpServer extends AsyncDisposable {
  hostname: string;
  port: number;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** Connections accepted so far. */
  readonly accepted: number;
}

/**
 * Hands each connection to `serve`, and closes it when `serve` ends. `disposed` resolves when the
 * server is disposed, so `serve` can hold a connection until then; disposal closes the listener
 * and every connection still open, and waits for every `serve`.
 */
export function tcpServer(
  serve: (conn: Deno.TcpConn, disposed: Promise<void>) => Promise<void>,
): TcpServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const disposed = Promise.withResolvers<void>();
  const open = new Set<Deno.TcpConn>();
  const tasks: Promise<void>[] = [];
  let accepted = 0;
  const close = (conn: Deno.TcpConn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      accepted++;
      open.add(conn);
      tasks.push(serve(conn, disposed.promise).catch(() => {}).finally(() => close(conn)));
    }
  })();
  const port = listener.addr.port;
  return {
    hostname: "127.0.0.1",
    port,
    origin: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      disposed.resolve();
      for (const conn of [...open]) close(conn);
      await Promise.all(tasks);
    },
  };
}

/** Reads up to the end of an HTTP request head (or of the stream); returns what it read. */
export async function readRequestHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(16_384);
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text;
}

/** Reads and discards until the peer closes (or the connection is closed): never answers. */
export async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(65_536);
  while ((await conn.read(buffer)) !== null) { /* discarded */ }
}

/** A closed loopback port: listened on, then closed (connecting to it is refused). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Writes all of `bytes` (a socket write may take only part). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}
