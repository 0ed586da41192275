/**
 * tus concatenation (and concatenation-unfinished): partial uploads, final uploads made of them,
 * assembly once every part is complete, and what is still missing.
 */
import type { PartStatus } from "../../lib/upload_status.ts";
import { UploadError } from "../../lib/errors.ts";
import { SNIFF_BYTES } from "../../lib/sniff.ts";
import { assertAllowedType } from "./type_policy.ts";
import { isUploadId } from "../../lib/ids.ts";
import type { Context } from "./context.ts";
import { findUpload, loadUpload } from "./lookup.ts";
import { uploadEvent } from "./upload_events.ts";
import { uploadUrl } from "./urls.ts";
import { isComplete, type UploadInfo } from "../store/types.ts";

export type ConcatRequest = { kind: "partial" } | { kind: "final"; parts: string[] };

/** Parses `Upload-Concat: partial` or `final;URL URL…` (absolute or relative URLs of ours). */
export function parseConcat(ctx: Context, header: string): ConcatRequest {
  const value = header.trim();
  if (value === "partial") return { kind: "partial" };
  if (!value.startsWith("final;")) {
    throw new UploadError(
      400,
      "bad-concat",
      `Invalid Upload-Concat ${
        JSON.stringify(value.slice(0, 60))
      }: expected "partial" or "final;URL URL…"`,
    );
  }
  const urls = value.slice("final;".length).trim().split(/\s+/).filter(Boolean);
  if (urls.length === 0) throw new UploadError(400, "bad-concat", "A final upload needs parts");
  if (urls.length > 1000) throw new UploadError(400, "bad-concat", "More than 1000 parts");
  const prefix = `${ctx.deps.config.basePath}/`;
  const parts = urls.map((u) => {
    let path: string;
    try {
      path = new URL(u, ctx.url).pathname;
    } catch {
      path = "";
    }
    const id = path.startsWith(prefix) ? path.slice(prefix.length) : "";
    if (!isUploadId(id)) {
      throw new UploadError(
        400,
        "bad-concat",
        `${JSON.stringify(u.slice(0, 100))} is not an upload here`,
      );
    }
    return id;
  });
  return { kind: "final", parts };
}

/** Checks the parts of a new final upload; returns its length (the sum of theirs). */
export async function finalLength(ctx: Context, parts: string[]): Promise<number> {
  let length = 0;
  for (const id of parts) {
    const part = await findUpload(ctx, id);
    if (!part) throw new UploadError(400, "bad-concat", `Part ${id} does not exist`);
    if (part.concat?.kind !== "partial") {
      throw new UploadError(400, "bad-concat", `Upload ${id} is not a partial upload`);
    }
    if (part.length === undefined) {
      throw new UploadError(400, "bad-concat", `Part ${id} has no length yet (deferred)`);
    }
    length += part.length;
  }
  return length;
}

/** The parts of a final upload as they stand; 410 if one of them is gone. */
export async function partsOf(ctx: Context, info: UploadInfo): Promise<PartStatus[]> {
  if (info.concat?.kind !== "final") return [];
  const out: PartStatus[] = [];
  for (const id of info.concat.parts) {
    const part = await findUpload(ctx, id);
    if (!part || part.length === undefined) {
      throw new UploadError(
        410,
        "part-gone",
        `Part ${id} of final upload ${info.id} no longer exists; the final upload can't complete`,
      );
    }
    out.push({
      id,
      url: uploadUrl(ctx, id),
      length: part.length,
      offset: part.offset,
      complete: isComplete(part),
    });
  }
  return out;
}

/** Byte ranges [start, end) of an upload that have not arrived yet, in its own coordinates. */
export function missingRanges(info: UploadInfo, parts: PartStatus[]): [number, number][] {
  if (parts.length === 0) {
    return info.length === undefined || info.offset >= info.length
      ? []
      : [[info.offset, info.length]];
  }
  if (isComplete(info)) return [];
  const ranges: [number, number][] = [];
  let base = 0;
  for (const part of parts) {
    if (part.offset < part.length) {
      const start = base + part.offset;
      const last = ranges.at(-1);
      if (last && last[1] === start) last[1] = base + part.length;
      else ranges.push([start, base + part.length]);
    }
    base += part.length;
  }
  return ranges;
}

/**
 * Assembles a final upload once all its parts are complete (the caller holds its lock). Returns
 * the info as it now stands: complete with digests, or unchanged while parts are missing.
 */
export async function assembleIfReady(ctx: Context, info: UploadInfo): Promise<UploadInfo> {
  if (info.concat?.kind !== "final" || isComplete(info)) return info;
  const parts = await partsOf(ctx, info);
  if (!parts.every((p) => p.complete)) return info;
  if (ctx.deps.config.allowTypes && info.offset === 0) {
    // The final's first bytes, across however many (short or empty) parts they span: sniff them
    // before assembling anything.
    const head: Uint8Array[] = [];
    let size = 0;
    for (const part of parts) {
      if (size >= SNIFF_BYTES) break;
      const n = Math.min(SNIFF_BYTES - size, part.length);
      if (n === 0) continue;
      head.push(
        new Uint8Array(await new Response(await ctx.deps.store.read(part.id, 0, n)).arrayBuffer()),
      );
      size += n;
    }
    const bytes = new Uint8Array(size);
    head.reduce((at, b) => (bytes.set(b, at), at + b.length), 0);
    await assertAllowedType(ctx, info, bytes, size === info.length);
  }
  const offset = await ctx.deps.store.assemble(info.id, parts);
  const assembled = { ...info, offset, updatedAt: ctx.deps.now() };
  assembled.digests = await ctx.deps.store.finish(info.id);
  await uploadEvent(ctx.deps, "completed", assembled, uploadUrl(ctx, info.id));
  return assembled;
}

/**
 * Loads an upload for reading (GET, status), assembling a final upload first if its parts have
 * completed since it was last looked at.
 */
export async function loadForReading(ctx: Context, id: string): Promise<UploadInfo> {
  const info = await loadUpload(ctx, id);
  if (info.concat?.kind !== "final" || isComplete(info)) return info;
  await using _lock = await ctx.deps.locker.acquire(id);
  // Again under the lock: a concurrent reader may have assembled it, or a DELETE ended it.
  const fresh = await loadUpload(ctx, id);
  return isComplete(fresh) ? fresh : await assembleIfReady(ctx, fresh);
}

/** `Upload-Concat` as HEAD reports it. */
export function concatHeader(ctx: Context, info: UploadInfo): string | undefined {
  if (info.concat?.kind === "partial") return "partial";
  if (info.concat?.kind === "final") {
    return `final;${info.concat.parts.map((id) => uploadUrl(ctx, id)).join(" ")}`;
  }
  return undefined;
}

/** Refuses to delete a part that an unfinished final upload still needs. */
export async function assertDeletable(ctx: Context, info: UploadInfo): Promise<void> {
  if (info.concat?.kind !== "partial") return;
  for (const finalId of info.concat.finals ?? []) {
    const final = await ctx.deps.store.get(finalId);
    if (final && !final.ended && !isComplete(final)) {
      throw new UploadError(
        409,
        "part-in-use",
        `Upload ${info.id} is a part of unfinished final upload ${finalId}; delete that first`,
      );
    }
  }
}
