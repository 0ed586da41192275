import { base64ToHex } from "../../lib/digest.ts";
import { loadForReading, missingRanges, partsOf } from "../concat.ts";
import { type Context, expiresAt, storedMetadata, uploadUrl } from "../context.ts";
import { isComplete } from "../store/types.ts";

/**
 * GET /files/{id}/status: where an upload stands, as JSON. For a final upload: its parts, which
 * are complete, and the byte ranges still missing (the out-of-order view of what is left).
 */
export async function status(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  const info = await loadForReading(ctx, id);
  const parts = isComplete(info) ? [] : await partsOf(ctx, info);
  const received = parts.length > 0 ? parts.reduce((n, p) => n + p.offset, 0) : info.offset;
  const expires = expiresAt(ctx.deps, info);
  const metadata = storedMetadata(info);
  const body = {
    id,
    url: uploadUrl(ctx, id),
    length: info.length ?? null,
    offset: info.offset,
    received,
    complete: isComplete(info),
    percent: info.length ? Math.floor((received / info.length) * 10_000) / 100 : null,
    concat: info.concat?.kind ?? null,
    ...(info.concat?.kind === "final" ? { parts } : {}),
    missing: missingRanges(info, parts),
    createdAt: new Date(info.createdAt).toISOString(),
    updatedAt: new Date(info.updatedAt).toISOString(),
    expiresAt: expires === undefined ? null : new Date(expires).toISOString(),
    metadata,
    digests: info.digests
      ? { md5: base64ToHex(info.digests.md5), sha256: base64ToHex(info.digests.sha256) }
      : null,
  };
  return Response.json(body, { headers: { "Cache-Control": "no-store" } });
}
