import { UploadError } from "../../lib/errors.ts";
import { H } from "../../lib/protocol.ts";
import type { Context } from "./context.ts";
import type { Deps } from "./deps.ts";

/** The largest upload length acceptable, or Infinity. */
export function sizeLimit(deps: Pick<Deps, "config">): number {
  return deps.config.maxSize ?? Number.MAX_SAFE_INTEGER;
}

/**
 * 413 when an upload length is over `--max-size`, or would take its owner past `--quota` (`held`
 * of its bytes are counted already). Synchronous: a creation reserves right after it, unawaited.
 */
export function assertLengthAllowed(ctx: Context, length: number, held = 0): void {
  if (length > sizeLimit(ctx.deps)) {
    throw new UploadError(
      413,
      "too-large",
      `Upload-Length ${length} exceeds the server's maximum of ${ctx.deps.config.maxSize} bytes`,
    );
  }
  const { quota } = ctx.deps.config;
  const used = ctx.deps.usage?.of(ctx.owner ?? "");
  if (quota !== undefined && used !== undefined && used + length - held > quota) {
    throw overQuota(ctx);
  }
}

/** 413 naming the quota, for a creation or a write that would take an owner past it. */
export function overQuota(ctx: Context, offset?: number): UploadError {
  const owner = ctx.owner ?? "";
  const used = ctx.deps.usage?.of(owner) ?? 0;
  return new UploadError(
    413,
    "quota-exceeded",
    `Quota exceeded: ${owner ? `${owner} holds` : "uploads hold"} ${used} of ` +
      `${ctx.deps.config.quota} bytes`,
    { headers: offset === undefined ? {} : { [H.uploadOffset]: String(offset) } },
  );
}
