/**
 * Raw HTTP/1.1 over `Deno.connect`, for what `fetch` cannot do: send headers and part of a body,
 * then keep the connection open and silent (half-dead) or close it abruptly; send paths with dot
 * segments or odd escapes verbatim; read a response with a deadline while a body is still going.
 *
 *     await using conn = await RawConnection.connect(server.url);
 *     await conn.sendHead("PATCH", `/files/${id}`, { "Content-Length": "1000", "Upload-Offset": "0" });
 *     await conn.write(bytes.subarray(0, 500)); // then stay silent…
 *     const res = await conn.readResponse({ timeoutMs: 5000 });
 *
 * A background loop reads everything the peer sends, so a response is received (and parsed later)
 * even while this side is blocked writing a body the server no longer reads.
 */

import { TimeoutError } from "./wait.ts";

export interface RawResponse {
  status: number;
  statusText: string;
  headers: Headers;
  body: Uint8Array;
  text(): string;
}

export interface ReadOptions {
  /** Give up (TimeoutError) after this long; default 5000 ms. */
  timeoutMs?: number;
  /** The request's method: a response to HEAD has no body. */
  method?: string;
  /** Return an informational (1xx) response too, rather than skipping it. */
  interim?: boolean;
}

export type Target = string | URL | { hostname: string; port: number };

const CRLF = "\r\n";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One TCP connection speaking HTTP/1.1 by hand. Dispose (or `close()`) to release it. */
export class RawConnection implements AsyncDisposable {
  readonly #conn: Deno.TcpConn;
  readonly #host: string;
  readonly #received = new ByteQueue();
  readonly #reading: Promise<void>;
  #peerClosed = false;
  #readError: unknown;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  private constructor(conn: Deno.TcpConn, host: string) {
    this.#conn = conn;
    this.#host = host;
    this.#reading = this.#readLoop();
  }

  /** Opens a connection to the host and port of `target` (a URL or {hostname, port}). */
  static async connect(target: Target): Promise<RawConnection> {
    const { hostname, port } = addressOf(target);
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new RawConnection(conn, `${hostname}:${port}`);
  }

  /** True once the peer closed (EOF) or reset the connection, or after `close()`. */
  get closed(): boolean {
    return this.#peerClosed;
  }

  /** The error that ended reading, if the peer reset the connection rather than closing it. */
  get readError(): unknown {
    return this.#readError;
  }

  /** Sends a request line and headers (a `Host` header is added unless given). */
  async sendHead(method: string, path: string, headers: Record<string, string> = {}) {
    const lines = [`${method} ${path} HTTP/1.1`];
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) {
      lines.push(`Host: ${this.#host}`);
    }
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    await this.write(lines.join(CRLF) + CRLF + CRLF);
  }

  /** Writes all of `data`; rejects once the connection is closed or reset. */
  async write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let done = 0; done < bytes.length;) {
      done += await this.#conn.write(bytes.subarray(done));
    }
  }

  /** Writes `data` as HTTP/1.1 chunks of at most `chunkSize` bytes; `end` adds the last chunk. */
  async writeChunked(data: Uint8Array, { chunkSize = 65536, end = true } = {}): Promise<void> {
    for (let at = 0; at < data.length; at += chunkSize) {
      const chunk = data.subarray(at, at + chunkSize);
      await this.write(chunk.length.toString(16) + CRLF);
      await this.write(chunk);
      await this.write(CRLF);
    }
    if (end) await this.write("0" + CRLF + CRLF);
  }

  /** Signals the end of what this side sends (TCP FIN on the write half); reading goes on. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /** Reads one response (skipping 1xx unless `interim`), waiting at most `timeoutMs` for all of it. */
  async readResponse(
    { timeoutMs = 5000, method = "GET", interim = false }: ReadOptions = {},
  ): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const headEnd = await this.#waitFor(() => this.#received.indexOf("\r\n\r\n"), deadline);
      const head = decoder.decode(this.#received.take(headEnd + 4)).slice(0, -4);
      const [statusLine = "", ...headerLines] = head.split(CRLF);
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!m) throw new Error(`Malformed status line ${JSON.stringify(statusLine)}`);
      const status = Number(m[1]);
      const headers = new Headers();
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      if (status < 200 && !interim) continue;
      let body: Uint8Array;
      const length = headers.get("content-length");
      if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
        body = new Uint8Array(0);
      } else if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
        body = await this.#readChunked(deadline);
      } else if (length !== null) {
        const n = Number(length);
        await this.#waitFor(() => this.#received.length >= n, deadline);
        body = this.#received.take(n);
      } else {
        await this.#waitFor(() => this.#peerClosed, deadline);
        body = this.#received.take(this.#received.length);
      }
      return {
        status,
        statusText: m[2] ?? "",
        headers,
        body,
        text: () => decoder.decode(body),
      };
    }
  }

  /** Resolves once the peer closes or resets the connection; TimeoutError after `timeoutMs`. */
  async waitForClose({ timeoutMs = 5000 } = {}): Promise<void> {
    await this.#waitFor(() => this.#peerClosed, Date.now() + timeoutMs, "the peer to close");
  }

  /** Closes the connection at once (idempotent). Pending writes and reads fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#reading;
  }

  async #readChunked(deadline: number): Promise<Uint8Array> {
    const parts = new ByteQueue();
    for (;;) {
      const lineEnd = await this.#waitFor(() => this.#received.indexOf(CRLF), deadline);
      const sizeLine = decoder.decode(this.#received.take(lineEnd + 2)).trim();
      const size = parseInt(sizeLine.split(";")[0]!, 16);
      if (!Number.isSafeInteger(size)) throw new Error(`Malformed chunk size ${sizeLine}`);
      if (size === 0) break;
      await this.#waitFor(() => this.#received.length >= size + 2, deadline);
      parts.push(this.#received.take(size));
      this.#received.take(2);
    }
    // Trailers, up to the empty line.
    for (;;) {
      const lineEnd = await this.#waitFor(() => this.#received.indexOf(CRLF), deadline);
      this.#received.take(lineEnd + 2);
      if (lineEnd === 0) break;
    }
    return parts.take(parts.length);
  }

  /**
   * Waits until `check` gives a non-negative number or true (returned), re-checking whenever bytes
   * arrive. Fails if the connection ends first (unless `check` is about the end) or at `deadline`.
   */
  async #waitFor<T extends number | boolean>(
    check: () => T,
    deadline: number,
    what = "a complete response",
  ): Promise<T> {
    for (;;) {
      const value = check();
      if (value === true || (typeof value === "number" && value >= 0)) return value;
      if (this.#peerClosed) {
        throw new Error(
          `Connection closed before ${what} arrived` +
            (this.#readError ? ` (${String(this.#readError)})` : "") +
            (this.#received.length ? `; got ${JSON.stringify(this.#received.peekText(200))}` : ""),
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(
          `Timed out waiting for ${what}; got ${JSON.stringify(this.#received.peekText(200))}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      let wake!: () => void;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.#waiters.add(wake);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiters.delete(wake);
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#received.push(buffer.slice(0, n));
        this.#wakeAll();
      }
    } catch (error) {
      // A reset by the peer ends the connection like a close; our own close() is not news.
      if (!this.#closed) this.#readError = error;
    } finally {
      this.#peerClosed = true;
      this.#wakeAll();
    }
  }

  #wakeAll(): void {
    for (const wake of this.#waiters) wake();
  }
}

/** Sends one complete request on a new connection and reads the response. */
export async function rawRequest(
  target: Target,
  method: string,
  path: string,
  { headers = {}, body, timeoutMs = 5000 }: {
    headers?: Record<string, string>;
    body?: Uint8Array | string;
    timeoutMs?: number;
  } = {},
): Promise<RawResponse> {
  await using conn = await RawConnection.connect(target);
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const all = { ...headers };
  if (bytes !== undefined) all["Content-Length"] = String(bytes.length);
  all["Connection"] = "close";
  await conn.sendHead(method, path, all);
  // The server may answer (and close) before reading the body; the answer is what counts.
  const sending = bytes === undefined ? Promise.resolve() : conn.write(bytes).catch(() => {});
  try {
    return await conn.readResponse({ timeoutMs, method });
  } finally {
    conn.close();
    await sending;
  }
}

function addressOf(target: Target): { hostname: string; port: number } {
  if (typeof target === "object" && !(target instanceof URL)) return target;
  const url = new URL(target);
  return { hostname: url.hostname, port: Number(url.port || 80) };
}

/** A growable byte buffer consumed from the front. */
class ByteQueue {
  #bytes = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#bytes.length) {
      const size = this.length + chunk.length;
      const next = new Uint8Array(Math.max(size * 2, 4096));
      next.set(this.#bytes.subarray(this.#start, this.#end));
      this.#bytes = next;
      this.#end -= this.#start;
      this.#start = 0;
    }
    this.#bytes.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Removes and returns the first `n` bytes (a copy). */
  take(n: number): Uint8Array {
    const out = this.#bytes.slice(this.#start, this.#start + n);
    this.#start += out.length;
    return out;
  }

  /** Index of `text` (ASCII) in the buffered bytes, or -1. */
  indexOf(text: string): number {
    const needle = encoder.encode(text);
    const hay = this.#bytes;
    outer: for (let i = this.#start; i + needle.length <= this.#end; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return i - this.#start;
    }
    return -1;
  }

  peekText(max: number): string {
    return decoder.decode(
      this.#bytes.subarray(this.#start, Math.min(this.#end, this.#start + max)),
    );
  }
}
