/** How S3 failures are told: one error type with S3's status and code, and its messages. */
import type http from "node:http";
import { errorCode, tag } from "./s3_xml.ts";

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

/** An S3 answer read whole. */
export interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** The error an S3 answer (non-2xx, or a 200 with an error document) stands for. */
export function toError(res: S3Response): S3Error {
  const code = errorCode(res.text) || (res.status === 404 ? "NotFound" : `HTTP${res.status}`);
  const message = tag(res.text, "Message") ?? res.text.slice(0, 200);
  return new S3Error(res.status, code, `S3 answered ${res.status} ${code}: ${message}`, {
    detail: message,
  });
}

/** What a request that never got an answer tells. */
export function networkMessage(req: { method: string; key?: string }, error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  return `S3 ${req.method} ${req.key ?? "(bucket)"} failed: ${why}`;
}

/** Why a request ended: no byte either way for `ms`. */
export function idleError(ms: number): Error {
  return new Error(`S3 sent nothing for ${ms / 1000} s`);
}
