/**
 * Signed requests to one bucket over node:http, so a body streams from a file with its
 * `Content-Length` (Deno's `fetch` sends every stream chunked, which S3-compatible servers refuse
 * or mishandle). Payloads are signed with their SHA-256 (computed while the bytes were buffered),
 * so the server verifies every part. Each request fails after a stretch of silence.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { sendFileRegion } from "./file_body.ts";
import { idleError, networkMessage, S3Error, type S3Response, toError } from "./s3_error.ts";
import type { RequestSigner } from "./s3_signer.ts";

/** A request body: bytes in memory (small), or a region of a file with its SHA-256 (hex). */
export type S3Body =
  | Uint8Array
  | { path: string; start: number; length: number; sha256?: string };

const EMPTY_SHA256 = createHash("sha256").digest("hex");
const UNSIGNED = "UNSIGNED-PAYLOAD";

export interface S3Request {
  method: "GET" | "PUT" | "POST" | "DELETE" | "HEAD";
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: S3Body;
  /** Statuses taken as success besides 2xx (e.g. 404 for a HEAD). */
  accept?: number[];
  /** This request's idle timeout, if not the client's. */
  idleMs?: number;
}

export class S3Http {
  readonly #url: URL;
  readonly #bucket: string;
  readonly #signer: RequestSigner;
  readonly #idleMs: number;
  readonly #agent: http.Agent;

  constructor(url: URL, bucket: string, signer: RequestSigner, idleMs: number) {
    this.#url = url;
    this.#bucket = bucket;
    this.#signer = signer;
    this.#idleMs = idleMs;
    const Agent = url.protocol === "https:" ? https.Agent : http.Agent;
    this.#agent = new Agent({ keepAlive: true, maxSockets: 64 });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** Sends one request and reads the answer whole (no retry). */
  async once(req: S3Request): Promise<S3Response> {
    const options = await this.#prepare(req);
    return await new Promise((resolve, reject) => {
      const outgoing = this.#request(options, req.idleMs, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }));
        res.on("error", reject);
      });
      outgoing.on("error", reject);
      // Destroying a timed-out request isn't always reported (Deno may quietly retry it on a
      // fresh connection): the caller hears of the timeout itself.
      outgoing.on("timeout", () => reject(idleError(req.idleMs ?? this.#idleMs)));
      const body = req.body;
      if (body === undefined) outgoing.end();
      else if (body instanceof Uint8Array) outgoing.end(body);
      else if (body.length === 0) outgoing.end();
      else sendFileRegion(outgoing, body);
    });
  }

  /** A GET whose body is handed over as a stream (status checked first). */
  async stream(key: string, range: string | undefined): Promise<ReadableStream<Uint8Array>> {
    const options = await this.#prepare({
      method: "GET",
      key,
      ...(range ? { headers: { range } } : {}),
    })
      .catch((error) => {
        throw new S3Error(0, "NetworkError", networkMessage({ method: "GET", key }, error));
      });
    return await new Promise((resolve, reject) => {
      let failBody: ((error: Error) => void) | undefined;
      const outgoing = this.#request(
        options,
        undefined,
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 300) {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on(
              "end",
              () =>
                reject(
                  toError({ status, headers: res.headers, text: Buffer.concat(chunks).toString() }),
                ),
            );
            return;
          }
          // Silence is a dead S3 only while we are reading: a paused body (its reader, a client
          // downloading slowly, stopped pulling) is quiet on purpose.
          const pause = () => {
            res.pause();
            outgoing.setTimeout(0);
          };
          const resume = () => {
            outgoing.setTimeout(this.#idleMs);
            res.resume();
          };
          pause();
          let done = false;
          resolve(
            new ReadableStream<Uint8Array>({
              start(controller) {
                failBody = (error) => {
                  if (!done) controller.error(error);
                  done = true;
                };
                res.on("data", (chunk: Buffer) => {
                  controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
                  if ((controller.desiredSize ?? 0) <= 0) pause();
                });
                res.on("end", () => {
                  done = true;
                  controller.close();
                });
                res.on("error", (error) => {
                  if (!done) controller.error(error);
                });
                res.on("aborted", () => {
                  if (!done) controller.error(new Error(`Reading ${key} from S3 was cut off`));
                });
              },
              pull() {
                resume();
              },
              cancel() {
                done = true;
                outgoing.destroy();
              },
            }, { highWaterMark: 4 }),
          );
        },
      );
      outgoing.on(
        "error",
        (error) =>
          reject(new S3Error(0, "NetworkError", networkMessage({ method: "GET", key }, error))),
      );
      // As in once(): a timeout is reported here, before the headers or while reading the body.
      outgoing.on("timeout", () => {
        const error = new S3Error(
          0,
          "NetworkError",
          networkMessage(
            { method: "GET", key },
            idleError(this.#idleMs),
          ),
        );
        reject(error);
        failBody?.(error);
      });
      outgoing.end();
    });
  }

  /** The request's signed head (credentials are fetched, or renewed, here). */
  async #prepare(req: S3Request): Promise<http.RequestOptions> {
    const path = this.#path(req.key);
    const query = req.query ?? {};
    const body = req.body;
    const length = body === undefined ? 0 : body instanceof Uint8Array ? body.length : body.length;
    const payload = body === undefined
      ? EMPTY_SHA256
      : body instanceof Uint8Array
      ? createHash("sha256").update(body).digest("hex")
      : body.sha256 ?? UNSIGNED;
    const hostname = this.#url.hostname.replace(/^\[|\]$/g, "");
    const headers = await this.#signer.sign({
      method: req.method,
      hostname,
      path,
      query,
      headers: { ...(req.headers ?? {}), host: this.#url.host, "x-amz-content-sha256": payload },
    });
    if (req.method === "PUT" || req.method === "POST") headers["content-length"] = String(length);
    const search = canonicalQuery(query);
    return {
      protocol: this.#url.protocol,
      hostname,
      port: this.#url.port || (this.#url.protocol === "https:" ? 443 : 80),
      method: req.method,
      path: search ? `${path}?${search}` : path,
      headers,
      agent: this.#agent,
    };
  }

  #request(
    options: http.RequestOptions,
    idleMs: number | undefined,
    onResponse: (res: http.IncomingMessage) => void,
  ): http.ClientRequest {
    const transport = this.#url.protocol === "https:" ? https : http;
    const outgoing = transport.request(options, onResponse);
    // A connection gone silent (a dead peer, a black-holed route) must fail, not hang the PATCH
    // and the lock it holds: no byte either way for `idleMs` ends the request.
    idleMs ??= this.#idleMs;
    outgoing.on("timeout", () => outgoing.destroy(idleError(idleMs)));
    outgoing.setTimeout(idleMs);
    return outgoing;
  }

  #path(key?: string): string {
    const base = this.#url.pathname.replace(/\/+$/, "");
    const parts = [this.#bucket, ...(key === undefined ? [] : key.split("/"))];
    return `${base}/${parts.map(uriEncode).join("/")}`;
  }
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalQuery(query: Record<string, string>): string {
  return Object.keys(query).sort().map((k) => `${uriEncode(k)}=${uriEncode(query[k]!)}`).join("&");
}
