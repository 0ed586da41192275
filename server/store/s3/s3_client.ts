/**
 * A small S3 client: the dozen calls the S3 store makes, signed with AWS Signature V4 (see
 * s3_signer.ts) and sent over node:http (s3_http.ts), retried on network failures and 5xx.
 * Why not `@aws-sdk/client-s3`: see the README's Scale-out section.
 */
import { networkMessage, S3Error, type S3Response, toError } from "./s3_error.ts";
import { type S3Body, S3Http, type S3Request } from "./s3_http.ts";
import { type CredentialSource, RequestSigner } from "./s3_signer.ts";
import { blocks, errorCode, escapeXml, tag } from "./s3_xml.ts";

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

export class S3Client {
  readonly bucket: string;
  readonly #region: string;
  readonly #attempts: number;
  readonly #http: S3Http;

  constructor(options: S3Options) {
    const url = new URL(options.endpoint);
    this.bucket = options.bucket;
    if (!/^[a-z0-9-]{1,64}$/.test(options.region)) {
      throw new RangeError(`Invalid --s3-region ${JSON.stringify(options.region)}`);
    }
    this.#region = options.region;
    const signer = new RequestSigner({ credentials: options.credentials, region: this.#region });
    this.#attempts = options.attempts ?? 4;
    this.#http = new S3Http(url, this.bucket, signer, options.idleMs ?? 60_000);
  }

  /** Throws unless the bucket answers (one attempt: for readiness probes). */
  async ping(): Promise<void> {
    const res = await this.#http.once({ method: "HEAD", idleMs: 3000 });
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
    return await this.#http.stream(key, range);
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
    this.#http.close();
  }

  /** Sends a request, retrying network failures and 5xx (bodies are files or bytes: replayable). */
  async #send(req: S3Request): Promise<S3Response> {
    for (let attempt = 1;; attempt++) {
      try {
        const res = await this.#http.once(req);
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
}

function etagOf(res: S3Response): string {
  const etag = res.headers.etag;
  return typeof etag === "string" ? etag : "";
}
