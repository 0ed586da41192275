/**
 * A loopback TCP proxy for network-fault tests: clients connect to the proxy, which connects to
 * the target and copies bytes both ways. It can cut every connection once a given number of bytes
 * has gone upstream (client → target), passing exactly that many, or cut everything on demand;
 * or hold the upstream direction after a number of bytes until the next cut.
 * It can also stall: stop forwarding, both ways, on every connection (new ones too), keeping all
 * sockets open — a black hole, as a frozen server or a NAT that forgot the flow looks — until it
 * is told to let traffic flow again, holding back nothing it read.
 *
 *     await using proxy = TcpProxy.start({ target: server });   // anything with hostname + port
 *     proxy.cutAfterUpstreamBytes(100_000);
 *     await fetch(`http://127.0.0.1:${proxy.port}/files/…`, …); // fails mid-body
 *     await proxy.cut;                                          // resolved when the cut happened
 *
 * A cut is one-shot: connections made after it pass untouched until armed again.
 *
 *     proxy.stallAfterUpstreamBytes(1_000_000);  // or proxy.stall() at once
 *     await proxy.stalled;                       // resolved when the stall began
 *     proxy.flow();                              // forward again, from where it stopped
 *
 * It can also throttle what goes upstream to a rate (over all connections), for a slow link:
 *
 *     await using proxy = TcpProxy.start({ target: server, upstreamBytesPerSecond: 2 * MiB });
 */

import { writeAll } from "./tcp_server.ts";

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
  #upstreamHold: number | undefined;
  /** What reaching the limit does. */
  #onLimit: "cut" | "stall" = "cut";
  #cut = Promise.withResolvers<void>();
  /** Set while stalled: resolved when traffic may flow again. */
  #hold: PromiseWithResolvers<void> | undefined;
  #stalled = Promise.withResolvers<void>();
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
    this.#arm(n, "cut");
    if (this.#limit !== undefined) this.#cut = Promise.withResolvers<void>();
    if (n === 0) this.cutAll();
  }

  /**
   * After `n` more bytes have gone upstream (counted over all connections from now), forwards
   * exactly those and stalls (see `stall`). `undefined` disarms.
   */
  stallAfterUpstreamBytes(n: number | undefined): void {
    this.#arm(n, "stall");
    if (this.#limit !== undefined) this.#stalled = Promise.withResolvers<void>();
    if (n === 0) this.stall();
  }

  /** Resolves when the armed stall has begun (or `stall` was called). */
  get stalled(): Promise<void> {
    return this.#stalled.promise;
  }

  /** Whether traffic is held now. */
  get isStalled(): boolean {
    return this.#hold !== undefined;
  }

  /**
   * Stops forwarding, both ways, on every connection and on those accepted later, keeping every
   * socket open: nothing passes and nothing is closed until `flow`.
   */
  stall(): void {
    this.#limit = undefined;
    this.#hold ??= Promise.withResolvers<void>();
    this.#stalled.resolve();
  }

  /** Ends a stall: forwards again, starting with what was read and held back. */
  flow(): void {
    this.#hold?.resolve();
    this.#hold = undefined;
  }

  #arm(n: number | undefined, action: "cut" | "stall"): void {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) {
      throw new RangeError(`Invalid byte count ${n}: expected a non-negative integer`);
    }
    this.#limit = n === undefined ? undefined : this.#upstreamBytes + n;
    this.#onLimit = action;
  }

  /**
   * After `n` more bytes have gone upstream, forwards exactly those and then holds: nothing more
   * goes upstream (downstream still flows) until `cutAll`. A client mid-body stays mid-body.
   */
  holdUpstreamAfter(n: number): void {
    this.#upstreamHold = this.#upstreamBytes + n;
    this.#cut = Promise.withResolvers<void>();
  }

  /** Closes every open connection now, both sides. */
  cutAll(): void {
    this.#limit = undefined;
    this.#upstreamHold = undefined;
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
    this.flow(); // copies held by a stall find their connections closed and end
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
          await this.#flowing();
          await to.closeWrite().catch(() => {});
          return;
        }
        let rest = buffer.subarray(0, n);
        while (rest.length > 0) {
          await this.#flowing();
          if (pair.closed) return;
          let chunk = rest;
          if (up && this.#upstreamHold !== undefined && this.#upstreamBytes >= this.#upstreamHold) {
            await this.cut; // held: the rest goes nowhere
            return;
          }
          const bound = up
            ? Math.min(this.#limit ?? Infinity, this.#upstreamHold ?? Infinity)
            : Infinity;
          if (bound !== Infinity) {
            const room = bound - this.#upstreamBytes;
            if (room <= 0) return; // another connection reached the limit; the cut is under way
            if (chunk.length > room) chunk = chunk.subarray(0, room);
          }
          rest = rest.subarray(chunk.length);
          // Count (and stall) before writing so concurrent connections never pass more than
          // the limit.
          if (up) this.#upstreamBytes += chunk.length;
          else this.#downstreamBytes += chunk.length;
          const atLimit = up && this.#limit !== undefined && this.#upstreamBytes >= this.#limit;
          const atHold = up && this.#upstreamHold !== undefined &&
            this.#upstreamBytes >= this.#upstreamHold;
          if (atLimit && this.#onLimit === "stall") this.stall();
          if (up) await this.#pace(chunk.length);
          await writeAll(to, chunk);
          if (atHold) {
            await this.cut; // held until cut
            return;
          }
          if (atLimit && this.#onLimit === "cut") {
            this.cutAll();
            return;
          }
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

  /** Resolves once no stall holds traffic (at once when there is none). */
  async #flowing(): Promise<void> {
    while (this.#hold && !this.#closing) await this.#hold.promise;
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
