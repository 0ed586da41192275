import { badRequest } from "./errors.ts";
/** Names and constants both sides of the protocol speak. */
export const TUS_VERSION = "1.0.0";
export const OFFSET_CONTENT_TYPE = "application/offset+octet-stream";

export const H = {
  tusResumable: "Tus-Resumable",
  tusVersion: "Tus-Version",
  tusExtension: "Tus-Extension",
  tusMaxSize: "Tus-Max-Size",
  uploadOffset: "Upload-Offset",
  uploadLength: "Upload-Length",
  uploadDeferLength: "Upload-Defer-Length",
  uploadMetadata: "Upload-Metadata",
  uploadExpires: "Upload-Expires",
  uploadConcat: "Upload-Concat",
  uploadChecksum: "Upload-Checksum",
  tusChecksumAlgorithm: "Tus-Checksum-Algorithm",
  methodOverride: "X-HTTP-Method-Override",
  reprDigest: "Repr-Digest",
  uploadComplete: "Upload-Complete",
  uploadIncomplete: "Upload-Incomplete",
  uploadLimit: "Upload-Limit",
  uploadDraftInteropVersion: "Upload-Draft-Interop-Version",
} as const;

/** Response headers a browser page needs to read (CORS `Access-Control-Expose-Headers`). */
export const EXPOSED_HEADERS = [
  H.tusResumable,
  H.tusVersion,
  H.tusExtension,
  H.tusMaxSize,
  H.tusChecksumAlgorithm,
  H.uploadOffset,
  H.uploadLength,
  H.uploadDeferLength,
  H.uploadMetadata,
  H.uploadExpires,
  H.uploadConcat,
  H.reprDigest,
  H.uploadComplete,
  H.uploadIncomplete,
  H.uploadLimit,
  H.uploadDraftInteropVersion,
  "Location",
  "Retry-After",
  "Content-Range",
  "Content-Disposition",
  "ETag",
];

/** Request headers a browser page may send (CORS `Access-Control-Allow-Headers`). */
export const ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Origin",
  "X-Requested-With",
  "X-Request-ID",
  H.methodOverride,
  H.tusResumable,
  H.uploadOffset,
  H.uploadLength,
  H.uploadDeferLength,
  H.uploadMetadata,
  H.uploadConcat,
  H.uploadChecksum,
  H.uploadComplete,
  H.uploadIncomplete,
  H.uploadDraftInteropVersion,
];

const INTEGER = /^[0-9]{1,16}$/;

/**
 * Parses a header integer strictly: decimal digits only (no sign, exponent, spaces or commas, so
 * duplicated headers joined as "5, 5" are refused), at most 2^53 - 1.
 */
export function parseHeaderInteger(name: string, value: string): number {
  if (!INTEGER.test(value)) {
    throw badRequest(
      `Invalid ${name} header ${
        JSON.stringify(value.slice(0, 40))
      }: expected one non-negative decimal integer`,
    );
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw badRequest(`Invalid ${name} header: ${value} is larger than 2^53 - 1`);
  }
  return n;
}
