/**
 * A loopback TCP proxy for network-fault tests: clients connect to the proxy, which connects to
 * the target and copies bytes both ways. It can cut every connection once a given number of bytes
 * has gone upstream (client → target), passing exactly that many, or cut everything on demand.
 *
 *     await using proxy = TcpProxy.start({ target: server });   // anything with hostname + port
 *     proxy.cutAfterUpstreamBytes(100_000);
 *     await fetch(`http://127.0.0.1:${proxy.port}/files/…`, …); // fails mid-body
 *     await proxy.cut;                                          // resolved when the cut happened
 *
 * A cut is one-shot: connections made after it pass untouched until armed again.
 *
 * It can also throttle what goes upstream to a rate (over all connections), for a slow link:
 *
 *     await using proxy = TcpProxy.start({ target: server, upstreamBytesPerSecond: 2 * MiB });
 */

export interface ProxyOptions {
  target: { hostname: string; port: number };
  /** Arms a cut at start: see `cutAfterUpstreamBytes`. */
  cutAfterUpstreamBytes?: number;
  /** Forwards client → target no faster than this, over all connections. */
  upstreamBytesPerSecond?: number;
}

interface Pair {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn;
  closed: boolean;
}

export class TcpProxy implements AsyncDisposable {
  readonly hostname = "127.0.0.1";
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #pairs = new Set<Pair>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #upstreamBytes = 0;
  #downstreamBytes = 0;
  #connections = 0;
  #limit: number | undefined;
  readonly #rate: number | undefined;
  /** When the throttle allows the next byte upstream (performance.now() ms). */
  #nextAt = 0;
  /** Upstream bytes past which nothing more is forwarded until the next cut (`holdUpstreamAfter`). */
  #hold: number | undefined;
  #cut = Promise.withResolvers<void>();
  #closing = false;

  private constructor(options: ProxyOptions) {
    this.#target = { hostname: options.target.hostname, port: options.target.port };
    this.#listener = Deno.listen({ hostname: this.hostname, port: 0, transport: "tcp" });
    this.port = this.#listener.addr.port;
    const rate = options.upstreamBytesPerSecond;
    if (rate !== undefined && !(rate > 0)) throw new RangeError(`Invalid rate ${rate}`);
    this.#rate = rate;
    if (options.cutAfterUpstreamBytes !== undefined) {
      this.cutAfterUpstreamBytes(options.cutAfterUpstreamBytes);
    }
    this.#accepting = this.#accept();
  }

  /** Starts listening on 127.0.0.1 with a free port. */
  static start(options: ProxyOptions): TcpProxy {
    return new TcpProxy(options);
  }

  /** `http://127.0.0.1:PORT`: the proxy as an HTTP origin. */
  get origin(): string {
    return `http://${this.hostname}:${this.port}`;
  }

  /** Bytes forwarded client → target so far, over all connections. */
  get upstreamBytes(): number {
    return this.#upstreamBytes;
  }

  /** Bytes forwarded target → client so far, over all connections. */
  get downstreamBytes(): number {
    return this.#downstreamBytes;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Resolves when the armed cut has happened (or `cutAll` was called). */
  get cut(): Promise<void> {
    return this.#cut.promise;
  }

  /**
   * After `n` more bytes have gone upstream (counted over all connections from now), forwards
   * exactly those and closes every connection, both sides. `undefined` disarms.
   */
  cutAfterUpstreamBytes(n: number | undefined): void {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) {
      throw new RangeError(`Invalid byte count ${n}: expected a non-negative integer`);
    }
    this.#limit = n === undefined ? undefined : this.#upstreamBytes + n;
    if (this.#limit !== undefined) this.#cut = Promise.withResolvers<void>();
    if (n === 0) this.cutAll();
  }

  /**
   * After `n` more bytes have gone upstream, forwards exactly those and then holds: nothing more
   * goes upstream (downstream still flows) until `cutAll`. A client mid-body stays mid-body.
   */
  holdUpstreamAfter(n: number): void {
    this.#hold = this.#upstreamBytes + n;
    this.#cut = Promise.withResolvers<void>();
  }

  /** Closes every open connection now, both sides. */
  cutAll(): void {
    this.#limit = undefined;
    this.#hold = undefined;
    for (const pair of this.#pairs) closePair(pair);
    this.#cut.resolve();
  }

  /** Stops listening, closes every connection and waits for all copying to end. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    await this.#accepting;
    this.cutAll();
    await Promise.all(this.#tasks);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      if (this.#closing) {
        client.close();
        return;
      }
      this.#connections++;
      const task = this.#serve(client);
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ ...this.#target, transport: "tcp" });
    } catch {
      client.close();
      return;
    }
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream, closed: false };
    this.#pairs.add(pair);
    await Promise.all([this.#copy(pair, true), this.#copy(pair, false)]);
    closePair(pair);
    this.#pairs.delete(pair);
  }

  async #copy(pair: Pair, up: boolean): Promise<void> {
    const from = up ? pair.client : pair.upstream;
    const to = up ? pair.upstream : pair.client;
    // Throttled: small reads, so the pace is smooth rather than a burst per 64 KiB.
    const buffer = new Uint8Array(up && this.#rate !== undefined ? 8 * 1024 : 64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) {
          await to.closeWrite().catch(() => {});
          return;
        }
        let chunk = buffer.subarray(0, n);
        let cutAfter = false;
        const bound = up ? Math.min(this.#limit ?? Infinity, this.#hold ?? Infinity) : Infinity;
        if (bound !== Infinity) {
          const room = bound - this.#upstreamBytes;
          if (room <= 0 && this.#hold !== undefined) {
            await this.cut; // held: the rest goes nowhere
            return;
          }
          if (room <= 0) return; // another connection reached the limit; the cut is under way
          if (chunk.length >= room) {
            chunk = chunk.subarray(0, room);
            cutAfter = true;
          }
        }
        // Count before writing so concurrent connections never pass more than the limit.
        if (up) this.#upstreamBytes += chunk.length;
        else this.#downstreamBytes += chunk.length;
        if (up) await this.#pace(chunk.length);
        await writeAll(to, chunk);
        if (cutAfter && this.#hold !== undefined && this.#upstreamBytes >= this.#hold) {
          await this.cut; // held until cut
          return;
        }
        if (cutAfter) {
          this.cutAll();
          return;
        }
      }
    } catch {
      closePair(pair); // one side failed: the connection is over
    }
  }

  /** Waits until `n` more bytes fit the throttle's rate (a simulated slow link). */
  async #pace(n: number): Promise<void> {
    if (this.#rate === undefined) return;
    const now = performance.now();
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + (n / this.#rate) * 1000;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}

function closePair(pair: Pair): void {
  if (pair.closed) return;
  pair.closed = true;
  for (const conn of [pair.client, pair.upstream]) {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}
