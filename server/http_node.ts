/**
 * The HTTP edge: serves a `(Request) => Promise<Response>` handler over node:http.
 *
 * Why not `Deno.serve`: since Deno 2.8.3 its HTTP/1.1 path drains an unread request body after an
 * early response instead of closing the connection, so a rejected 1 GiB PATCH (409, 413, 415…)
 * would still be read to the end, and a half-dead client would hold its connection forever.
 * Here the socket is ours: after a response sent before its request body was consumed, the rest
 * is discarded only within a bound (see LINGER_*), then the connection is destroyed. node:http
 * also exposes request trailers (checksum-trailer) and the connection, for its limits. With a
 * certificate it is node:https on the same terms, and the certificate can be replaced live.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createSecureServer, type Server as SecureServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { BodyReader } from "./http_body.ts";
import type { TlsPair } from "./tls.ts";

/**
 * After an early response: how long and how much of the unread body we discard before cutting the
 * connection. Some clients (hyper, hence Deno's fetch) finish writing the chunk in flight before
 * they read the answer, and a reset before then loses it; 16 MiB covers the usual chunk sizes
 * (and a body that ends within the bound leaves the connection reusable), while a 1 GiB body or a
 * silent half-dead client is cut within 2 s.
 */
const LINGER_MS = 2000;
const LINGER_BYTES = 16 * 1024 * 1024;

export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** "https" when serving with a certificate. */
  readonly scheme: "http" | "https";
  /**
   * Presents `pair` to connections made from now on; those open keep theirs, so uploads in
   * flight go on (https only).
   */
  setTls(pair: TlsPair): void;
  /** Stops accepting, waits for in-flight requests up to `graceMs`, then cuts what is left. */
  shutdown(graceMs: number): Promise<void>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /** A connection that hasn't sent a whole request head in this long is closed (slowloris). */
  headersTimeoutMs?: number;
  /** Serve https (TLS 1.2 or later) with this certificate and key. */
  tls?: TlsPair;
}

/** Request heads larger than this get 431 (node:http enforces it). */
const MAX_HEADER_BYTES = 16 * 1024;
/** More header fields than this get 431 (enforced here: Deno's node:http ignores the option). */
const MAX_HEADER_FIELDS = 100;
/** Connections beyond this are refused (each holds a socket and, downloading, a file). */
const MAX_CONNECTIONS = 4096;

/** Methods a web `Request` refuses to represent. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** Trailers of the requests in flight, resolved when their bodies end (checksum-trailer). */
const TRAILERS = new WeakMap<Request, Promise<Headers>>();

/** The trailers of a request served here; empty when it had none or its body never ended. */
export function requestTrailers(req: Request): Promise<Headers> {
  return TRAILERS.get(req) ?? Promise.resolve(new Headers());
}

/** Peer addresses of the requests in flight (the connection's, never a header's). */
const PEERS = new WeakMap<Request, string>();

/** The address of the peer that sent a request served here (undefined if unknown). */
export function requestPeer(req: Request): string | undefined {
  return PEERS.get(req);
}

/** How each request in flight sends an informational (1xx) response, while it can. */
const INFORMATIONAL = new WeakMap<
  Request,
  (status: number, headers: Record<string, string>) => boolean
>();

/**
 * Sends a 1xx response for a request served here, ahead of its final response: written straight
 * to the connection, as node:http has no general way to. Only while this request owns the
 * connection (a pipelined one waits its turn) and before its response has begun; never to an
 * HTTP/1.0 client (RFC 9110 §15.2). True if sent.
 */
export function sendInformational(
  req: Request,
  status: number,
  headers: Record<string, string>,
): boolean {
  return INFORMATIONAL.get(req)?.(status, headers) ?? false;
}

const REASONS: Record<number, string> = { 104: "Upload Resumption Supported" };
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

function informational(req: IncomingMessage, res: ServerResponse) {
  return (status: number, headers: Record<string, string>): boolean => {
    const socket = res.socket;
    if (!socket || res.headersSent || res.destroyed || req.httpVersion === "1.0") return false;
    if (!REASONS[status]) return false;
    let head = `HTTP/1.1 ${status} ${REASONS[status]}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (!FIELD_VALUE.test(value)) return false;
      head += `${name}: ${value}\r\n`;
    }
    socket.write(head + "\r\n");
    return true;
  };
}

export async function serveHttp(
  options: ServeOptions,
  handler: (req: Request) => Promise<Response>,
  onError: (message: string, error: unknown) => void,
): Promise<HttpServer> {
  const inFlight = new Set<Promise<void>>();
  const limit = options.headersTimeoutMs ?? 30_000;
  const onRequest = (req: IncomingMessage, res: ServerResponse, expectsContinue = false) => {
    disarm(req.socket);
    res.once("finish", () => arm(req.socket));
    const done = respond(req, res, handler, options, expectsContinue).catch((error) => {
      onError("response failed", error);
      res.destroy();
    });
    inFlight.add(done);
    done.finally(() => inFlight.delete(done));
  };
  const tls = options.tls;
  const tlsOptions = (pair: TlsPair) => ({ ...pair, minVersion: "TLSv1.2" as const });
  const secure: SecureServer | undefined = tls
    ? createSecureServer(
      { ...tlsOptions(tls), maxHeaderSize: MAX_HEADER_BYTES, handshakeTimeout: limit },
      onRequest,
    )
    : undefined;
  const server: Server = secure ?? createServer({ maxHeaderSize: MAX_HEADER_BYTES }, onRequest);
  // `Expect: 100-continue`: the 100 goes out only once the handler reads the body, so a request
  // refused on its head (wrong offset, too big, no such upload) is answered before the client
  // sends a byte of it. node:http's default sends 100 at once, before any check.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res, true);
  });
  // A handshake must finish within the limit too. A failed one (plain HTTP to this port, a client
  // that doesn't trust the certificate) closes just that connection: nothing to log or answer.
  if (tls) server.on("tlsClientError", () => {});
  // Deno's node:http doesn't enforce headersTimeout: a connection must send a request head within
  // the limit, whether new or idle between requests; a slowloris client is cut, not kept.
  const timers = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  const arm = (socket: Socket) => {
    clearTimeout(timers.get(socket));
    timers.set(socket, setTimeout(() => socket.destroy(), limit));
  };
  const disarm = (socket: Socket) => clearTimeout(timers.get(socket));
  // With TLS, requests arrive on the TLS socket, which exists once the handshake is done.
  server.on(tls ? "secureConnection" : "connection", (socket: Socket) => {
    arm(socket);
    socket.once("close", () => disarm(socket));
  });
  // CONNECT never reaches the request handler; it has no place in an upload server.
  server.on("connect", (_req: IncomingMessage, socket: Socket) => {
    socket.end(
      "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PATCH, DELETE, OPTIONS\r\n" +
        "Content-Length: 0\r\nConnection: close\r\n\r\n",
    );
  });
  // A client may send its whole request and then half-close (FIN, as `nc -N` and some proxies
  // do): the request is still answered and its body read to the end (node:http's default
  // aborts it and drops the connection). A body the FIN cuts short ends as a body error.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.maxConnections = MAX_CONNECTIONS;
  server.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
    const status = error.code === "HPE_HEADER_OVERFLOW"
      ? "431 Request Header Fields Too Large"
      : "400 Bad Request";
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    hostname: address.address,
    port: address.port,
    scheme: tls ? "https" : "http",
    setTls(pair) {
      if (!secure) throw new Error("This server speaks plain http");
      secure.setSecureContext(tlsOptions(pair));
    },
    async shutdown(graceMs) {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
      ]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
    },
  };
}

async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  handler: (req: Request) => Promise<Response>,
  options: ServeOptions,
  expectsContinue: boolean,
): Promise<void> {
  // Set up first: 'close' may fire while the handler still runs (the client went away).
  const gone = new Promise<void>((resolve) => {
    if (res.destroyed) resolve();
    res.once("close", resolve);
  });
  if (req.rawHeaders.length / 2 > MAX_HEADER_FIELDS) {
    res.writeHead(431, { "Content-Length": 0, Connection: "close" });
    await end(res, gone);
    return;
  }
  if (FORBIDDEN_METHODS.has(req.method ?? "")) {
    // fetch's Request can't carry these at all; answer here, as the handler would (405).
    res.writeHead(405, { Allow: "GET, HEAD, POST, PATCH, DELETE, OPTIONS", "Content-Length": 0 });
    await end(res, gone);
    return;
  }
  let continued = false;
  const body = new BodyReader(
    req,
    expectsContinue
      ? () => {
        continued = true;
        res.writeContinue();
      }
      : undefined,
  );
  const request = toRequest(req, body, options);
  TRAILERS.set(request, body.trailers);
  INFORMATIONAL.set(request, informational(req, res));
  if (req.socket.remoteAddress) PEERS.set(request, req.socket.remoteAddress);
  if (expectsContinue) {
    await null; // the body stream's own first pull happens here, before the handler can read
    body.arm();
  }
  const response = await handler(request);
  res.statusCode = response.status;
  if (response.status === 460) res.statusMessage = "Checksum Mismatch";
  for (const [name, value] of response.headers) res.setHeader(name, value);
  // Answered without a 100: the client may send the body it announced or never send it; either
  // way nothing more can be read on this connection as a request (RFC 9110 §10.1.1).
  if (expectsContinue && !continued) res.setHeader("Connection", "close");
  const early = body.announced && !body.ended;
  if (response.body === null || req.method === "HEAD" || res.destroyed) {
    await response.body?.cancel();
    await end(res, gone);
  } else if (!response.headers.has("content-length")) {
    // Small generated bodies (errors, JSON): send them with a length, keeping the connection.
    const bytes = new Uint8Array(await response.arrayBuffer());
    res.setHeader("Content-Length", bytes.length);
    await end(res, gone, bytes);
  } else {
    await pipeBody(response.body, res, gone, options.headersTimeoutMs ?? 30_000);
  }
  if (early) discardRest(req);
}

/** Builds the web Request the handler sees, with every header (duplicates joined by ", "). */
function toRequest(req: IncomingMessage, body: BodyReader, options: ServeOptions): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const host = /^[A-Za-z0-9.\-:[\]]+$/.test(req.headers.host ?? "")
    ? req.headers.host!
    : `${options.hostname}:${options.port}`;
  const scheme = options.tls ? "https" : "http";
  let url: URL;
  try {
    url = new URL(req.url ?? "/", `${scheme}://${host}`);
  } catch {
    url = new URL("/", `${scheme}://${options.hostname}`);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD" && body.announced;
  return new Request(url, {
    method,
    headers,
    ...(hasBody ? { body: body.stream, duplex: "half" } : {}),
  } as RequestInit);
}

/** Ends the response; settles when it is flushed or when the connection is gone, whichever first. */
function end(res: ServerResponse, gone: Promise<void>, bytes?: Uint8Array): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return Promise.race([
    new Promise<void>((resolve) => (bytes ? res.end(bytes, resolve) : res.end(resolve))),
    gone,
  ]);
}

async function pipeBody(
  body: ReadableStream<Uint8Array>,
  res: ServerResponse,
  gone: Promise<void>,
  sendTimeoutMs: number,
): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), gone.then(() => null)]);
      if (next === null) return; // the client went away
      if (next.done) break;
      if (res.destroyed) return;
      if (!res.write(next.value)) {
        // A reader that stops reading is cut after the idle timeout, file and all.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<"stalled">((resolve) => {
          timer = setTimeout(() => resolve("stalled"), sendTimeoutMs);
        });
        const why = await Promise.race([
          new Promise((r) => res.once("drain", r)),
          gone,
          stalled,
        ]);
        clearTimeout(timer);
        if (why === "stalled") {
          res.destroy();
          return;
        }
      }
    }
    await end(res, gone);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Discards what is left of an unread body within LINGER_* bounds; past them, cuts. */
function discardRest(req: IncomingMessage): void {
  if (req.complete) return;
  const socket = req.socket;
  let discarded = 0;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, LINGER_MS);
  const closed = () => clearTimeout(timer);
  socket.once("close", closed);
  req.once("end", () => { // the body ended in time: the connection lives on
    clearTimeout(timer);
    socket.off("close", closed);
  });
  req.removeAllListeners("data");
  req.on("data", (chunk: Uint8Array) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) cut();
  });
  req.resume();
}
