/**
 * A loopback TCP proxy in front of an S3 endpoint that reads the head of every request going
 * through (bytes pass unchanged, so signatures stay valid), and can withhold the answers to
 * chosen requests: such a request reaches S3 and is carried out, but its sender never hears back.
 *
 *     await using tap = S3Tap.start(new URL(s3Endpoint));
 *     tap.holdAnswers((r) => r.query.has("partNumber"));   // parts go up, their ETags never arrive
 *     // point a server at tap.origin, then look at tap.requests
 *
 * Requests are HTTP/1.1 with a Content-Length (as the S3 client sends them), one at a time per
 * connection.
 */
import { concatBytes } from "./bytes.ts";
import { type TcpServer, tcpServer, writeAll } from "./tcp_server.ts";

export interface TappedRequest {
  method: string;
  /** The path, without the query. */
  path: string;
  query: URLSearchParams;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** When its head went through (ms since the epoch). */
  at: number;
  /** Its answer is being withheld. */
  held: boolean;
}

interface Pair {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn;
  /** A request on this connection waits for an answer it won't get. */
  held: boolean;
}

const HEAD_END = new TextEncoder().encode("\r\n\r\n");
/** Bytes of a request head at most (S3 requests' heads are a few KiB). */
const MAX_HEAD = 64 * 1024;

export class S3Tap implements AsyncDisposable {
  readonly requests: TappedRequest[] = [];
  readonly port: number;
  readonly #target: { hostname: string; port: number };
  readonly #server: TcpServer;
  #hold: ((request: TappedRequest) => boolean) | undefined;

  private constructor(target: { hostname: string; port: number }) {
    this.#target = target;
    this.#server = tcpServer((client) => this.#serve(client));
    this.port = this.#server.port;
  }

  /** Listens on 127.0.0.1 (a free port), forwarding to `target`'s host and port. */
  static start(target: URL): S3Tap {
    return new S3Tap({ hostname: target.hostname, port: Number(target.port || 80) });
  }

  /** `http://127.0.0.1:PORT`: the S3 endpoint to give the server. */
  get origin(): string {
    return this.#server.origin;
  }

  /** From now on, answers to the requests `pick` chooses are withheld (undefined: none). */
  holdAnswers(pick: ((request: TappedRequest) => boolean) | undefined): void {
    this.#hold = pick;
  }

  /** Closes every client connection (which ends its pair) and waits for all of them. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server[Symbol.asyncDispose]();
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect(this.#target);
    } catch {
      return; // the client's connection is closed when this returns
    }
    const pair: Pair = { client, upstream, held: false };
    await Promise.all([this.#up(pair), this.#down(pair)]);
    close(pair);
  }

  /** Client → S3: forwards everything, reading each request's head on the way. */
  async #up(pair: Pair): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let head: Uint8Array = new Uint8Array(0);
    let bodyLeft = 0;
    try {
      for (;;) {
        const n = await pair.client.read(buffer);
        if (n === null) return;
        let chunk: Uint8Array = buffer.subarray(0, n);
        const forward = chunk.slice();
        while (chunk.length > 0) {
          if (bodyLeft > 0) {
            const skip = Math.min(bodyLeft, chunk.length);
            bodyLeft -= skip;
            chunk = chunk.subarray(skip);
            continue;
          }
          head = concatBytes(head, chunk);
          chunk = new Uint8Array(0);
          const end = indexOf(head, HEAD_END);
          if (end < 0) {
            if (head.length > MAX_HEAD) throw new Error("request head too long");
            continue;
          }
          const request = this.#record(new TextDecoder().decode(head.subarray(0, end)));
          if (request.held) pair.held = true;
          bodyLeft = Number(request.headers["content-length"] ?? 0);
          chunk = head.subarray(end + HEAD_END.length);
          head = new Uint8Array(0);
        }
        await writeAll(pair.upstream, forward);
      }
    } catch {
      close(pair);
    }
  }

  /** S3 → client: forwards answers, unless this connection's request is held. */
  async #down(pair: Pair): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await pair.upstream.read(buffer);
        if (n === null) return;
        if (!pair.held) await writeAll(pair.client, buffer.subarray(0, n));
      }
    } catch {
      close(pair);
    }
  }

  #record(text: string): TappedRequest {
    const [line = "", ...fields] = text.split("\r\n");
    const [method = "", target = ""] = line.split(" ");
    const url = new URL(target, "http://s3");
    const headers: Record<string, string> = {};
    for (const field of fields) {
      const colon = field.indexOf(":");
      if (colon > 0) headers[field.slice(0, colon).toLowerCase()] = field.slice(colon + 1).trim();
    }
    const request: TappedRequest = {
      method,
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers,
      at: Date.now(),
      held: false,
    };
    request.held = this.#hold?.(request) ?? false;
    this.requests.push(request);
    return request;
  }
}

function close(pair: Pair): void {
  for (const conn of [pair.client, pair.upstream]) {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

function indexOf(bytes: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
