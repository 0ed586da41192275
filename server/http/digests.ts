import { formatReprDigest } from "../../lib/digest_header.ts";
import { H } from "../../lib/protocol.ts";
import type { Context } from "./context.ts";
import { isComplete, type UploadInfo } from "../store/types.ts";

/**
 * `Repr-Digest` for a complete upload, recording its digests first if that hasn't happened yet
 * (the caller holds the lock, or the upload is complete and so no longer written).
 */
export async function digestHeaders(
  ctx: Context,
  info: UploadInfo,
): Promise<Record<string, string>> {
  if (!isComplete(info)) return {};
  const digests = info.digests ?? await ctx.deps.store.finish(info.id);
  info.digests = digests;
  return { [H.reprDigest]: formatReprDigest(digests) };
}
