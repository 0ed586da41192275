/**
 * A small S3 client: the dozen calls the S3 store makes, signed with AWS Signature V4 (see
 * s3_signer.ts) and sent over node:http, so a body streams from a file with its `Content-Length`
 * (Deno's `fetch` sends every stream chunked, which S3-compatible servers refuse or mishandle).
 * Payloads are signed with their SHA-256 (computed while the bytes were buffered), so the server
 * verifies every part. Why not `@aws-sdk/client-s3`: see the README's Scale-out section.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import http from "node:http";
import https from "node:https";
import { type CredentialSource, RequestSigner } from "./s3_signer.ts";

export interface S3Options {
  /** `http(s)://host:port`, optionally with a path prefix; buckets are addressed path-style. */
  endpoint: string;
  bucket: string;
  region: string;
  /** Fixed, or a provider that renews temporary credentials (asked before every request). */
  credentials: CredentialSource;
  /** Attempts for a request that failed on the network or with a 5xx (default 4). */
  attempts?: number;
  /** A request with no byte either way for this long fails (default 60 s). */
  idleMs?: number;
}

/** A request body: bytes in memory (small), or a region of a file with its SHA-256 (hex). */
export type S3Body =
  | Uint8Array
  | { path: string; start: number; length: number; sha256?: string };

/** An error answer from S3 (or a network failure, status 0), with its S3 error code. */
export class S3Error extends Error {
  readonly status: number;
  readonly code: string;
  /** S3's own message (from its error document), if it sent one. */
  readonly detail: string;
  constructor(
    status: number,
    code: string,
    message: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(message, options);
    this.name = "S3Error";
    this.status = status;
    this.code = code;
    this.detail = options?.detail ?? "";
  }
}

export interface S3Object {
  key: string;
  size: number;
  lastModified: number;
}

export interface S3MultipartUpload {
  key: string;
  uploadId: string;
  initiated: number;
}

const EMPTY_SHA256 = createHash("sha256").digest("hex");
const UNSIGNED = "UNSIGNED-PAYLOAD";

interface Request {
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

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export class S3Client {
  readonly bucket: string;
  readonly #url: URL;
  readonly #region: string;
  readonly #signer: RequestSigner;
  readonly #attempts: number;
  readonly #idleMs: number;
  readonly #agent: http.Agent;

  constructor(options: S3Options) {
    this.#url = new URL(options.endpoint);
    this.bucket = options.bucket;
    if (!/^[a-z0-9-]{1,64}$/.test(options.region)) {
      throw new RangeError(`Invalid --s3-region ${JSON.stringify(options.region)}`);
    }
    this.#region = options.region;
    this.#signer = new RequestSigner({ credentials: options.credentials, region: this.#region });
    this.#attempts = options.attempts ?? 4;
    this.#idleMs = options.idleMs ?? 60_000;
    const Agent = this.#url.protocol === "https:" ? https.Agent : http.Agent;
    this.#agent = new Agent({ keepAlive: true, maxSockets: 64 });
  }

  /** Throws unless the bucket answers (one attempt: for readiness probes). */
  async ping(): Promise<void> {
    const res = await this.#once({ method: "HEAD", idleMs: 3000 });
    if (res.status >= 300) throw toError(res);
  }

  /**
   * Makes sure the bucket exists (creating it if missing); throws if it isn't ours to use. Asks
   * with a GET, not a HEAD: a refusal then comes with S3's error code and message.
   */
  async ensureBucket(): Promise<void> {
    const query = { "list-type": "2", "max-keys": "0" };
    const res = await this.#send({ method: "GET", query, accept: [404] });
    if (res.status === 404) {
      if (errorCode(res.text) !== "NoSuchBucket") throw toError(res);
      await this.createBucket();
    }
  }

  /** Creates the bucket; one that exists already (and is ours) is fine. */
  async createBucket(): Promise<void> {
    // Outside us-east-1, AWS wants the region named in the body.
    const body = this.#region === "us-east-1" ? undefined : new TextEncoder().encode(
      `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<LocationConstraint>${this.#region}</LocationConstraint></CreateBucketConfiguration>`,
    );
    const res = await this.#send({ method: "PUT", accept: [409], ...(body ? { body } : {}) });
    const code = errorCode(res.text);
    if (
      res.status === 409 && code !== "BucketAlreadyOwnedByYou" && code !== "BucketAlreadyExists"
    ) {
      throw toError(res);
    }
  }

  /** Deletes the (empty) bucket; one already gone is fine. */
  async deleteBucket(): Promise<void> {
    await this.#send({ method: "DELETE", accept: [404] });
  }

  async putObject(key: string, body: S3Body): Promise<string> {
    const res = await this.#send({ method: "PUT", key, body });
    return etagOf(res);
  }

  /** Bytes [start, end) of an object (all of it without a range), streamed. */
  async getObject(key: string, start?: number, end?: number): Promise<ReadableStream<Uint8Array>> {
    const range = start === undefined ? undefined : `bytes=${start}-${(end ?? 0) - 1}`;
    if (range !== undefined && end !== undefined && end <= start!) {
      return new ReadableStream({ start: (c) => c.close() });
    }
    return await this.#stream(key, range);
  }

  /** Size and ETag of an object, or undefined if there is none. */
  async headObject(key: string): Promise<{ size: number; etag: string } | undefined> {
    const res = await this.#send({ method: "HEAD", key, accept: [404] });
    if (res.status === 404) return undefined;
    return { size: Number(res.headers["content-length"] ?? 0), etag: etagOf(res) };
  }

  /** Deletes an object; a missing one is fine. */
  async deleteObject(key: string): Promise<void> {
    await this.#send({ method: "DELETE", key, accept: [404] });
  }

  async createMultipartUpload(key: string): Promise<string> {
    const res = await this.#send({ method: "POST", key, query: { uploads: "" } });
    const id = tag(res.text, "UploadId");
    if (!id) throw new S3Error(res.status, "BadResponse", "CreateMultipartUpload gave no UploadId");
    return id;
  }

  async uploadPart(key: string, uploadId: string, part: number, body: S3Body): Promise<string> {
    const query = { partNumber: String(part), uploadId };
    return etagOf(await this.#send({ method: "PUT", key, query, body }));
  }

  /** Completes a multipart upload from its parts' numbers and ETags, in order. */
  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: { part: number; etag: string }[],
  ): Promise<void> {
    const xml = "<CompleteMultipartUpload>" +
      parts.map((p) =>
        `<Part><PartNumber>${p.part}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`
      ).join("") + "</CompleteMultipartUpload>";
    const res = await this.#send({
      method: "POST",
      key,
      query: { uploadId },
      body: new TextEncoder().encode(xml),
      headers: { "content-type": "application/xml" },
    });
    // S3 may answer 200 and still fail: the error is then in the body.
    if (/<Error>/.test(res.text)) throw toError({ ...res, status: 500 });
  }

  /** Aborts a multipart upload, deleting its parts; one already gone is fine. */
  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.#send({ method: "DELETE", key, query: { uploadId }, accept: [404] });
  }

  /** Every object whose key starts with `prefix`. */
  async *listObjects(prefix: string): AsyncIterable<S3Object> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (token) query["continuation-token"] = token;
      const res = await this.#send({ method: "GET", query });
      for (const block of blocks(res.text, "Contents")) {
        yield {
          key: tag(block, "Key") ?? "",
          size: Number(tag(block, "Size") ?? 0),
          lastModified: Date.parse(tag(block, "LastModified") ?? "") || 0,
        };
      }
      token = tag(res.text, "IsTruncated") === "true"
        ? tag(res.text, "NextContinuationToken")
        : undefined;
    } while (token);
  }

  /** Every multipart upload in progress whose key starts with `prefix`. */
  async *listMultipartUploads(prefix: string): AsyncIterable<S3MultipartUpload> {
    let marker: { key: string; id: string } | undefined;
    do {
      const query: Record<string, string> = { uploads: "", prefix };
      if (marker) Object.assign(query, { "key-marker": marker.key, "upload-id-marker": marker.id });
      const res = await this.#send({ method: "GET", query });
      for (const block of blocks(res.text, "Upload")) {
        yield {
          key: tag(block, "Key") ?? "",
          uploadId: tag(block, "UploadId") ?? "",
          initiated: Date.parse(tag(block, "Initiated") ?? "") || 0,
        };
      }
      const key = tag(res.text, "NextKeyMarker");
      const id = tag(res.text, "NextUploadIdMarker");
      marker = tag(res.text, "IsTruncated") === "true" && key ? { key, id: id ?? "" } : undefined;
    } while (marker);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** Sends a request, retrying network failures and 5xx (bodies are files or bytes: replayable). */
  async #send(req: Request): Promise<Response> {
    for (let attempt = 1;; attempt++) {
      try {
        const res = await this.#once(req);
        if (res.status < 300 || req.accept?.includes(res.status)) return res;
        throw toError(res);
      } catch (error) {
        const s3 = error instanceof S3Error ? error : undefined;
        const transient = !s3 || s3.status === 0 || s3.status >= 500 || s3.code === "SlowDown";
        if (!transient || attempt >= this.#attempts) {
          throw s3 ?? new S3Error(0, "NetworkError", networkMessage(req, error), { cause: error });
        }
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  async #once(req: Request): Promise<Response> {
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
      else {
        const file = createReadStream(body.path, {
          start: body.start,
          end: body.start + body.length - 1,
          highWaterMark: 1024 * 1024,
        });
        file.on("error", (error) => outgoing.destroy(error));
        file.pipe(outgoing);
      }
    });
  }

  /** A GET whose body is handed over as a stream (status checked first). */
  async #stream(key: string, range: string | undefined): Promise<ReadableStream<Uint8Array>> {
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
      // As in #once: a timeout is reported here, before the headers or while reading the body.
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
  async #prepare(req: Request): Promise<http.RequestOptions> {
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
    const parts = [this.bucket, ...(key === undefined ? [] : key.split("/"))];
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

function etagOf(res: Response): string {
  const etag = res.headers.etag;
  return typeof etag === "string" ? etag : "";
}

/** The text of the first `<name>` element, XML entities decoded. */
function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? unescapeXml(m[1]!) : undefined;
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]!);
}

function errorCode(xml: string): string {
  return tag(xml, "Code") ?? "";
}

function toError(res: Response): S3Error {
  const code = errorCode(res.text) || (res.status === 404 ? "NotFound" : `HTTP${res.status}`);
  const message = tag(res.text, "Message") ?? res.text.slice(0, 200);
  return new S3Error(res.status, code, `S3 answered ${res.status} ${code}: ${message}`, {
    detail: message,
  });
}

function networkMessage(req: Pick<Request, "method" | "key">, error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  return `S3 ${req.method} ${req.key ?? "(bucket)"} failed: ${why}`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function unescapeXml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(
    /&gt;/g,
    ">",
  ).replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&");
}

function idleError(ms: number): Error {
  return new Error(`S3 sent nothing for ${ms / 1000} s`);
}
