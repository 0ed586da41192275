import { UploadError } from "../../lib/errors.ts";
import type { Context } from "../context.ts";

/** DELETE /files/{id}: termination. Stops an older request still writing this upload. */
export async function del(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  await using _lock = await ctx.deps.locker.acquire(id);
  if (!(await ctx.deps.store.remove(id))) {
    throw new UploadError(404, "not-found", `Upload ${id} not found`);
  }
  return new Response(null, { status: 204 });
}
