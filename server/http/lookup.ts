import { UploadError } from "../../lib/errors.ts";
import type { Context } from "./context.ts";
import { expiresAt } from "./expiry.ts";
import type { Lock } from "../lock/locker.ts";
import type { UploadInfo } from "../store/types.ts";

/**
 * The upload's record as this request may see it, tombstones included: undefined if unknown or
 * someone else's.
 */
export async function findRecord(ctx: Context, id: string): Promise<UploadInfo | undefined> {
  const info = await ctx.deps.store.get(id);
  return info && (ctx.owner === undefined || info.owner === ctx.owner) ? info : undefined;
}

/** The live upload as this request may see it: undefined if unknown, ended or someone else's. */
export async function findUpload(ctx: Context, id: string): Promise<UploadInfo | undefined> {
  const info = await findRecord(ctx, id);
  return info?.ended ? undefined : info;
}

/**
 * Takes the upload's lock — which asks an older request on it to stop — but only for a request
 * that may see the upload: a stranger's HEAD must not cut its owner's PATCH short (404 first).
 */
export async function lockUpload(ctx: Context, id: string): Promise<Lock> {
  if (ctx.owner !== undefined && !(await findRecord(ctx, id))) {
    throw new UploadError(404, "not-found", `Upload ${id} not found`);
  }
  return await ctx.deps.locker.acquire(id);
}

/**
 * The upload's info, or 404 (unknown, or another owner's: its existence is not revealed) / 410
 * (expired, not yet swept).
 */
export async function loadUpload(ctx: Context, id: string): Promise<UploadInfo> {
  const info = await findRecord(ctx, id);
  if (!info) throw new UploadError(404, "not-found", `Upload ${id} not found`);
  if (info.ended) {
    const when = new Date(info.ended.at).toISOString();
    throw new UploadError(410, info.ended.state, `Upload ${id} was ${info.ended.state} at ${when}`);
  }
  const expires = expiresAt(ctx.deps, info);
  if (expires !== undefined && expires <= ctx.deps.now()) {
    throw new UploadError(
      410,
      "expired",
      `Upload ${id} expired at ${new Date(expires).toISOString()}`,
    );
  }
  return info;
}
