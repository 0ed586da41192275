import { CHECKSUM_ALGORITHMS } from "../../../lib/checksum.ts";
import { H, TUS_VERSION } from "../../../lib/protocol.ts";
import { DRAFT_RULES, LATEST_INTEROP_VERSION } from "../../../lib/ietf_versions.ts";
import type { Context } from "../context.ts";
import type { Deps } from "../deps.ts";
import { uploadLimit } from "../ietf.ts";

/** The tus extensions this server can actually serve, derived from its config and the edge. */
export function extensions(deps: Deps): string[] {
  const list = [
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "checksum",
    "concatenation",
    "concatenation-unfinished",
  ];
  if (deps.trailers) list.push("checksum-trailer");
  if (deps.config.expireMs > 0) list.push("expiration");
  return list;
}

/**
 * OPTIONS: tus discovery, and the draft's: `Upload-Limit` always (`min-size=0` when nothing is
 * limited), as the request's interop version writes it, or the newest without one.
 */
export function options(ctx: Context): Response {
  const headers = new Headers({
    [H.tusVersion]: TUS_VERSION,
    [H.tusExtension]: extensions(ctx.deps).join(","),
    [H.tusChecksumAlgorithm]: CHECKSUM_ALGORITHMS.join(","),
  });
  if (ctx.deps.config.maxSize !== undefined) {
    headers.set(H.tusMaxSize, String(ctx.deps.config.maxSize));
  }
  const rules = ctx.draft ?? DRAFT_RULES[LATEST_INTEROP_VERSION];
  const limit = uploadLimit(ctx.deps, rules); // none before interop version 6
  if (limit !== undefined) headers.set(H.uploadLimit, limit);
  if (ctx.draft) headers.set(H.uploadDraftInteropVersion, String(ctx.draft.version));
  return new Response(null, { status: 204, headers });
}
