import { UploadError } from "../../lib/errors.ts";
import { assertDeletable } from "../concat.ts";
import { type Context, countUpload, findUpload, lockUpload } from "../context.ts";

/**
 * DELETE /files/{id}: termination. Stops an older request still writing this upload; refuses a
 * part that an unfinished final upload still needs.
 */
export async function del(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  await using _lock = await lockUpload(ctx, id);
  const info = await findUpload(ctx, id);
  if (info) await assertDeletable(ctx, info);
  if (!info || !(await ctx.deps.store.remove(id))) {
    throw new UploadError(404, "not-found", `Upload ${id} not found`);
  }
  countUpload(ctx.deps, "terminated");
  return new Response(null, { status: 204 });
}
