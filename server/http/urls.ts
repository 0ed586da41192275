import type { Context } from "./context.ts";
import { publicOrigin } from "./forwarded.ts";

/** The URL of an upload as clients should see it (absolute; proxy-aware when configured). */
export function uploadUrl(ctx: Context, id: string): string {
  return `${collectionUrl(ctx)}/${id}`;
}

/** The URL of the upload collection (`/files`) as clients should see it. */
export function collectionUrl(ctx: Context): string {
  return `${publicOrigin(ctx)}${ctx.deps.config.basePath}`;
}
