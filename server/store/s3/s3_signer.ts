/**
 * AWS Signature Version 4 for the S3 client, computed by the SDK's `@smithy/signature-v4` (with
 * node:crypto's SHA-256), from credentials that are either fixed or come from a provider that
 * renews them (the SDK's provider chain): every request is signed with what the provider holds
 * then, and a session token goes along as `X-Amz-Security-Token`.
 */
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials' token, sent as `X-Amz-Security-Token`. */
  sessionToken?: string;
  /** When temporary credentials stop working (the provider renews them before). */
  expiration?: Date;
}

/** Fixed credentials, or a provider asked before every request (it caches and renews them). */
export type CredentialSource = Credentials | (() => Promise<Credentials>);

export interface SigningRequest {
  method: string;
  hostname: string;
  port?: number;
  /** Already URI-encoded, as sent (S3 paths are not encoded twice). */
  path: string;
  query?: Record<string, string>;
  /** Lower-case names; `host` included. Every one of them is signed. */
  headers: Record<string, string>;
  /** Hashed for the signature unless `x-amz-content-sha256` states the payload's hash. */
  body?: string | Uint8Array;
}

export class RequestSigner {
  readonly #v4: SignatureV4;

  constructor(options: { credentials: CredentialSource; region: string; service?: string }) {
    this.#v4 = new SignatureV4({
      credentials: options.credentials,
      region: options.region,
      service: options.service ?? "s3",
      sha256: Hash.bind(null, "sha256"),
      // S3 takes the path as sent; the payload hash is the caller's `x-amz-content-sha256`.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** The headers to send: the request's own plus `x-amz-date`, the token and `authorization`. */
  async sign(request: SigningRequest, at?: Date): Promise<Record<string, string>> {
    const signed = await this.#v4.sign({
      protocol: "https:",
      ...request,
      query: request.query ?? {},
      headers: { ...request.headers },
    }, at ? { signingDate: at } : {});
    return signed.headers as Record<string, string>;
  }
}
