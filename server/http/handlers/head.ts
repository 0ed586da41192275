import { H } from "../../../lib/protocol.ts";
import { assembleIfReady, concatHeader } from "../concat.ts";
import type { Context } from "../context.ts";
import { digestHeaders } from "../digests.ts";
import { expiryHeaders } from "../expiry.ts";
import { loadUpload, lockUpload } from "../lookup.ts";
import { assertNoAppendFields, ietfHeaders } from "../ietf.ts";
import { isComplete } from "../../store/types.ts";

/**
 * HEAD /files/{id}: the committed offset. Stops an older request still writing this upload. A
 * final upload is assembled here if its parts have completed since; until then it has no offset.
 */
export async function head(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  if (ctx.dialect === "ietf") assertNoAppendFields(ctx);
  await using _lock = await lockUpload(ctx, id);
  const info = await assembleIfReady(ctx, await loadUpload(ctx, id));
  const headers = new Headers({
    "Cache-Control": "no-store",
    ...expiryHeaders(ctx.deps, info),
    ...(await digestHeaders(ctx, info)),
  });
  if (ctx.dialect === "ietf") {
    for (const [k, v] of Object.entries(ietfHeaders(ctx, info))) headers.set(k, v);
  }
  if (info.concat?.kind !== "final" || isComplete(info)) {
    headers.set(H.uploadOffset, String(info.offset));
  }
  if (info.length !== undefined) headers.set(H.uploadLength, String(info.length));
  else if (ctx.dialect !== "ietf") headers.set(H.uploadDeferLength, "1"); // tus only
  if (info.metadata !== "") headers.set(H.uploadMetadata, info.metadata);
  const concat = concatHeader(ctx, info);
  if (concat) headers.set(H.uploadConcat, concat);
  // The draft answers offset retrieval with 204; tus with 200 (both allowed there).
  return new Response(null, { status: ctx.dialect === "ietf" ? 204 : 200, headers });
}
