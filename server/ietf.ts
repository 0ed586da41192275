/**
 * The IETF "Resumable Uploads for HTTP" draft at the revision tus-js-client speaks as
 * `ietf-draft-05` (`Upload-Draft-Interop-Version: 6`): the same uploads, other field names.
 */
import { UploadError } from "../lib/errors.ts";
import type { Deps } from "./context.ts";
import { isComplete, type UploadInfo } from "./store/types.ts";

export const INTEROP_VERSION = "6";
export const INTEROP_HEADER = "Upload-Draft-Interop-Version";
export const PARTIAL_UPLOAD_TYPE = "application/partial-upload";

/** `Upload-Complete` (a structured-field boolean): true, false, or undefined when absent. */
export function uploadComplete(req: Request): boolean | undefined {
  const value = req.headers.get("upload-complete");
  if (value === null) return undefined;
  if (value.trim() === "?1") return true;
  if (value.trim() === "?0") return false;
  throw new UploadError(400, "bad-upload-complete", "Upload-Complete must be ?0 or ?1");
}

/** The draft's view of an upload, on every response about one. */
export function ietfHeaders(deps: Deps, info?: UploadInfo): Record<string, string> {
  const headers: Record<string, string> = { [INTEROP_HEADER]: INTEROP_VERSION };
  if (deps.config.maxSize !== undefined) {
    headers["Upload-Limit"] = `max-size=${deps.config.maxSize}`;
  }
  if (info) headers["Upload-Complete"] = isComplete(info) ? "?1" : "?0";
  return headers;
}

const PROBLEM_TYPES: Record<string, string> = {
  "offset-mismatch": "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
  "completed-upload": "https://iana.org/assignments/http-problem-types#completed-upload",
  "inconsistent-length":
    "https://iana.org/assignments/http-problem-types#inconsistent-upload-length",
};

/** An error as an RFC 9457 problem document, with the draft's types where it defines one. */
export function problem(error: UploadError, req: Request): Response {
  const body: Record<string, unknown> = {
    type: PROBLEM_TYPES[error.code] ?? "about:blank",
    title: error.message,
    code: error.code,
  };
  if (error.code === "offset-mismatch") {
    body["expected-offset"] = Number(error.headers["Upload-Offset"]);
    const provided = Number(req.headers.get("upload-offset"));
    if (Number.isSafeInteger(provided)) body["provided-offset"] = provided;
  }
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set(INTEROP_HEADER, INTEROP_VERSION);
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
