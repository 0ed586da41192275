import { parseChecksum } from "../lib/checksum.ts";
import { UploadError } from "../lib/errors.ts";
import { H } from "../lib/protocol.ts";
import { type Context, integerHeader, sizeLimit } from "./context.ts";
import type { Lock } from "./lock/locker.ts";
import type { ChecksumCheck, UploadInfo } from "./store/types.ts";

/**
 * Streams the request body into the upload at its committed offset (PATCH and POST with data).
 * The caller holds the lock and has matched the offset. Returns the new durable offset; every
 * other outcome is an UploadError carrying the committed `Upload-Offset`.
 */
export async function appendBody(ctx: Context, info: UploadInfo, lock: Lock): Promise<number> {
  const { store, shutdown } = ctx.deps;
  const declared = info.length !== undefined;
  const room = (declared ? info.length! : sizeLimit(ctx.deps)) - info.offset;
  const contentLength = integerHeader(ctx.req, "content-length");
  if (contentLength !== undefined && contentLength > room) {
    throw tooLarge(info, info.offset, declared);
  }
  const checksum = checksumCheck(ctx);
  const result = await store.append(info.id, info.offset, ctx.req.body, {
    maxBytes: room,
    signal: AbortSignal.any([lock.signal, shutdown]),
    ...(checksum ? { checksum } : {}),
  });
  const offset = { [H.uploadOffset]: String(result.offset) };
  if (result.overflow) throw tooLarge(info, result.offset, declared);
  if (result.checksumMismatch) {
    throw new UploadError(
      460,
      "checksum-mismatch",
      `Upload-Checksum does not match the body; the chunk was discarded (offset stays ${result.offset})`,
      { headers: offset },
    );
  }
  if (result.stopped && shutdown.aborted) {
    throw new UploadError(
      503,
      "shutting-down",
      `Server is shutting down; ${result.offset} bytes of upload ${info.id} are stored`,
      { headers: { ...offset, "Retry-After": "5" } },
    );
  }
  if (result.stopped && result.offset === info.offset) {
    throw new UploadError(
      423,
      "taken-over",
      `Upload ${info.id} was taken over by a newer request`,
      {
        headers: { ...offset, "Retry-After": "1" },
      },
    );
  }
  if (result.bodyError !== undefined) {
    throw new UploadError(
      400,
      "body-incomplete",
      `Request body ended early; ${result.offset - info.offset} bytes of it are stored` +
        (checksum ? " (a checksummed body is stored whole or not at all)" : ""),
      { headers: offset, cause: result.bodyError },
    );
  }
  // Finished, or stopped by a newer request after storing some bytes: both are committed progress.
  return result.offset;
}

function tooLarge(info: UploadInfo, offset: number, declared: boolean): UploadError {
  const why = declared
    ? `goes past Upload-Length ${info.length}`
    : "goes past the server's maximum upload size";
  return new UploadError(413, "too-large", `Request body for upload ${info.id} ${why}`, {
    headers: { [H.uploadOffset]: String(offset) },
  });
}

/**
 * The checksum the body must match: from `Upload-Checksum` (parsed now, so a bad one is refused
 * before any byte is read), or — checksum-trailer — from the trailer the client announced with
 * `Trailer: Upload-Checksum`, read once the body has ended.
 */
export function checksumCheck(ctx: Context): ChecksumCheck | undefined {
  const header = ctx.req.headers.get(H.uploadChecksum);
  if (header !== null) {
    const checksum = parseChecksum(header);
    return { algorithm: checksum.algorithm, expected: () => Promise.resolve(checksum) };
  }
  const announced = /(^|,)\s*upload-checksum\s*(,|$)/i.test(ctx.req.headers.get("trailer") ?? "");
  const trailers = ctx.deps.trailers;
  if (!announced || !trailers) return undefined;
  return {
    async expected() {
      const value = (await trailers(ctx.req)).get(H.uploadChecksum);
      if (value === null) {
        throw new UploadError(
          400,
          "missing-checksum-trailer",
          "Trailer: Upload-Checksum was announced but no Upload-Checksum trailer arrived",
        );
      }
      return parseChecksum(value);
    },
  };
}
