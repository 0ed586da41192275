import { CHECKSUM_ALGORITHMS } from "../../lib/checksum.ts";
import { H, TUS_VERSION } from "../../lib/protocol.ts";
import type { Context, Deps } from "../context.ts";

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

/** OPTIONS: tus discovery. */
export function options(ctx: Context): Response {
  const headers = new Headers({
    [H.tusVersion]: TUS_VERSION,
    [H.tusExtension]: extensions(ctx.deps).join(","),
    [H.tusChecksumAlgorithm]: CHECKSUM_ALGORITHMS.join(","),
  });
  if (ctx.deps.config.maxSize !== undefined) {
    headers.set(H.tusMaxSize, String(ctx.deps.config.maxSize));
    headers.set("Upload-Limit", `max-size=${ctx.deps.config.maxSize}`);
  }
  return new Response(null, { status: 204, headers });
}
