import { parseChecksum } from "../../lib/checksum.ts";
import { UploadError } from "../../lib/errors.ts";
import { H } from "../../lib/protocol.ts";
import type { Context } from "./context.ts";
import type { ChecksumCheck } from "../store/types.ts";

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
  const announced = (ctx.req.headers.get("trailer") ?? "").split(",")
    .some((name) => name.trim().toLowerCase() === H.uploadChecksum.toLowerCase());
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
