import { H } from "../../lib/protocol.ts";
import { type Context, digestHeaders, expiryHeaders, loadUpload } from "../context.ts";

/** HEAD /files/{id}: the committed offset. Stops an older request still writing this upload. */
export async function head(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  await using _lock = await ctx.deps.locker.acquire(id);
  const info = await loadUpload(ctx, id);
  const headers = new Headers({
    [H.uploadOffset]: String(info.offset),
    "Cache-Control": "no-store",
    ...expiryHeaders(ctx.deps, info),
    ...(await digestHeaders(ctx, info)),
  });
  if (info.length === undefined) headers.set(H.uploadDeferLength, "1");
  else headers.set(H.uploadLength, String(info.length));
  if (info.metadata !== "") headers.set(H.uploadMetadata, info.metadata);
  return new Response(null, { status: 200, headers });
}
