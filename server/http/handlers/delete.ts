import { UploadError } from "../../../lib/errors.ts";
import { assertDeletable } from "../concat.ts";
import { assertNoAppendFields } from "../ietf.ts";
import type { Context } from "../context.ts";
import { findUpload, lockUpload } from "../lookup.ts";
import { uploadEvent } from "../upload_events.ts";
import { uploadUrl } from "../urls.ts";

/**
 * DELETE /files/{id}: termination. Stops an older request still writing this upload; refuses a
 * part that an unfinished final upload still needs.
 */
export async function del(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  if (ctx.dialect === "ietf") assertNoAppendFields(ctx);
  await using _lock = await lockUpload(ctx, id);
  const info = await findUpload(ctx, id);
  if (info) await assertDeletable(ctx, info);
  const ended = { state: "terminated" as const, at: ctx.deps.now() };
  if (!info || !(await ctx.deps.store.remove(id, ended))) {
    throw new UploadError(404, "not-found", `Upload ${id} not found`);
  }
  ctx.deps.progress.forget(id);
  await uploadEvent(ctx.deps, "terminated", info, uploadUrl(ctx, id));
  return new Response(null, { status: 204 });
}
