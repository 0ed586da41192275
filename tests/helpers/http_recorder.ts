/**
 * A recording HTTP proxy for client end-to-end tests: a small `Deno.serve` on 127.0.0.1 that
 * forwards every request to a target origin with `fetch`, streaming bodies both ways, and records
 * each request's method, path, headers, status and the body bytes that went through (counted as
 * they stream, so nothing is buffered whole).
 *
 *     await using recorder = HttpRecorder.start({ target: server.origin });
 *     // point the client at recorder.url("/files"), then:
 *     await recorder.settled();
 *     const patches = recorder.requests.filter((r) => r.method === "PATCH");
 *
 * `Location` headers naming the target are rewritten to the recorder's origin, so a client that
 * follows them keeps talking through the recorder. Options can rewrite `Repr-Digest` (a server
 * that lies about its digests) or run a hook before a request is forwarded (e.g. another writer
 * racing the client).
 */

export interface RecordedRequest {
  /** Position in `requests` (0-based, over the recorder's whole life). */
  readonly index: number;
  readonly method: string;
  /** Path and query, e.g. `/files/<id>`. */
  readonly path: string;
  /** The request headers as the client sent them. */
  readonly headers: Headers;
  /** `Content-Length` as the client sent it, or undefined (absent or not a number). */
  readonly contentLength: number | undefined;
  /** `Upload-Offset` as the client sent it, or undefined. */
  readonly uploadOffset: number | undefined;
  /** Request body bytes received from the client and handed on to the target so far. */
  bodyBytes: number;
  /** True once the request body was read to its end (false if it was cut short or cancelled). */
  bodyComplete: boolean;
  /** The target's status, or undefined while waiting or when the forward failed. */
  status: number | undefined;
  /** The target's response headers (before any rewriting). */
  responseHeaders: Headers | undefined;
  /** Response body bytes passed back to the client so far. */
  responseBytes: number;
  /** Why forwarding failed, if it did (the client then got a 502). */
  error: unknown;
}

export interface RecorderOptions {
  /** Where to forward, e.g. `http://127.0.0.1:41234` (a path, if any, is ignored). */
  target: string;
  /** Replaces the value of every `Repr-Digest` response header with this one. */
  rewriteReprDigest?: string;
  /**
   * Runs after a request was recorded and before it is forwarded; the request waits for it. A
   * Response returned is sent instead of forwarding (a fault injected), after the request body was
   * read (and counted) to its end; a throw makes the recorder answer 502 without forwarding.
   */
  beforeForward?: (
    request: RecordedRequest,
  ) => void | Response | Promise<void | Response>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and `host`, which fetch sets for the target. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "host",
];

export class HttpRecorder implements AsyncDisposable {
  readonly hostname = "127.0.0.1";
  readonly port: number;
  /** Every request seen, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  readonly #target: string;
  readonly #options: RecorderOptions;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #pending = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #closed = false;

  private constructor(options: RecorderOptions) {
    this.#options = options;
    this.#target = new URL(options.target).origin;
    this.#server = Deno.serve(
      { hostname: this.hostname, port: 0, onListen: () => {}, signal: this.#abort.signal },
      (req) => this.#handle(req),
    );
    this.port = this.#server.addr.port;
  }

  /** Starts listening on a free loopback port. */
  static start(options: RecorderOptions): HttpRecorder {
    return new HttpRecorder(options);
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    return `http://${this.hostname}:${this.port}`;
  }

  /** The recorder's URL for `path` (e.g. `/files`). */
  url(path: string): string {
    return this.origin + path;
  }

  /** The recorded requests with `method` (upper case). */
  byMethod(method: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method);
  }

  /** Request body bytes of every recorded request with `method`, summed. */
  bodyBytes(method: string): number {
    return this.byMethod(method).reduce((sum, r) => sum + r.bodyBytes, 0);
  }

  /** Forgets the requests recorded so far (indices keep counting). */
  clear(): void {
    this.requests.length = 0;
  }

  /** Resolves once every request so far has finished streaming both of its bodies. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops listening, ends open connections and waits for every forward to finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    await this.#server.finished;
    await this.settled();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #nextIndex = 0;

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const record: RecordedRequest = {
      index: this.#nextIndex++,
      method: req.method,
      path: url.pathname + url.search,
      headers: new Headers(req.headers),
      contentLength: integer(req.headers.get("content-length")),
      uploadOffset: integer(req.headers.get("upload-offset")),
      bodyBytes: 0,
      bodyComplete: false,
      status: undefined,
      responseHeaders: undefined,
      responseBytes: 0,
      error: undefined,
    };
    this.requests.push(record);

    const requestDone = Promise.withResolvers<void>();
    const responseDone = Promise.withResolvers<void>();
    // A target may answer before reading the whole body (e.g. 409) and never read the rest: the
    // exchange is over once the response is, and the count is what went through by then.
    responseDone.promise.then(() => requestDone.resolve());
    const all = Promise.all([requestDone.promise, responseDone.promise]).then(() => {});
    this.#pending.add(all);
    all.finally(() => this.#pending.delete(all));

    // Deno.serve hands out a (empty) stream even for a request without a body; forwarding that
    // would turn it into a chunked body the target never got. Only a declared body is forwarded.
    const hasBody = req.body !== null &&
      (req.headers.has("transfer-encoding") || (record.contentLength ?? 0) > 0);
    let body: ReadableStream<Uint8Array> | null = null;
    if (!hasBody) {
      record.bodyComplete = true;
      await req.body?.cancel().catch(() => {});
      requestDone.resolve();
    } else {
      body = counting(req.body!, (n) => record.bodyBytes += n, (complete) => {
        record.bodyComplete = complete;
        requestDone.resolve();
      });
    }

    const headers = new Headers(req.headers);
    for (const name of HOP_BY_HOP) headers.delete(name);
    if (!hasBody) headers.delete("content-length");
    let upstream: Response;
    try {
      const injected = await this.#options.beforeForward?.(record);
      if (injected) {
        // Read the body to its end first, so the client gets this answer and not a reset.
        if (body !== null) { for await (const _ of body) { /* counted */ } }
        requestDone.resolve();
        record.status = injected.status;
        record.responseHeaders = new Headers(injected.headers);
        responseDone.resolve();
        return injected;
      }
      upstream = await fetch(this.#target + record.path, {
        method: req.method,
        headers,
        body,
        redirect: "manual",
      });
    } catch (error) {
      record.error = error;
      await body?.cancel().catch(() => {});
      requestDone.resolve();
      responseDone.resolve();
      return new Response(`recorder: forwarding failed: ${error}\n`, { status: 502 });
    }
    record.status = upstream.status;
    record.responseHeaders = new Headers(upstream.headers);

    const out = new Headers(upstream.headers);
    for (const name of HOP_BY_HOP) out.delete(name);
    const location = out.get("location");
    if (location !== null) {
      const absolute = new URL(location, this.#target);
      if (absolute.origin === this.#target) {
        out.set("location", this.origin + absolute.pathname + absolute.search);
      }
    }
    if (this.#options.rewriteReprDigest !== undefined && out.has("repr-digest")) {
      out.set("repr-digest", this.#options.rewriteReprDigest);
    }
    let responseBody: ReadableStream<Uint8Array> | null = null;
    if (upstream.body === null) responseDone.resolve();
    else {
      responseBody = counting(
        upstream.body,
        (n) => record.responseBytes += n,
        () => responseDone.resolve(),
      );
    }
    if (req.method === "HEAD" || [101, 103, 204, 205, 304].includes(upstream.status)) {
      await responseBody?.cancel().catch(() => {});
      responseDone.resolve();
      responseBody = null;
    }
    // A client that goes away mid-response cancels the stream, which ends the count.
    return new Response(responseBody, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: out,
    });
  }
}

/**
 * Wraps `source` so every chunk pulled through is counted; `onEnd(complete)` runs once, with true
 * when the source ended normally and false when it failed or the reader cancelled.
 */
function counting(
  source: ReadableStream<Uint8Array>,
  onBytes: (n: number) => void,
  onEnd: (complete: boolean) => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let ended = false;
  const end = (complete: boolean) => {
    if (ended) return;
    ended = true;
    onEnd(complete);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        end(false);
        controller.error(error);
        return;
      }
      if (next.done) {
        end(true);
        controller.close();
        return;
      }
      onBytes(next.value.byteLength);
      controller.enqueue(next.value);
    },
    async cancel(reason) {
      end(false);
      await reader.cancel(reason).catch(() => {});
    },
  });
}

function integer(value: string | null): number | undefined {
  return value !== null && /^\d{1,16}$/.test(value) ? Number(value) : undefined;
}
