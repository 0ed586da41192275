import { defined } from "../../../lib/defined.ts";
import { base64ToHex } from "../../../lib/digest_header.ts";
import { UploadError } from "../../../lib/errors.ts";
import type { UploadStatus } from "../../../lib/upload_status.ts";
import { loadForReading, missingRanges, partsOf } from "../concat.ts";
import type { Context } from "../context.ts";
import { expiresAt } from "../expiry.ts";
import { findRecord } from "../lookup.ts";
import { storedMetadata } from "../stored_metadata.ts";
import { uploadUrl } from "../urls.ts";
import { etaSeconds } from "../progress.ts";
import { stateOf } from "../state.ts";
import { isComplete, type UploadInfo } from "../../store/types.ts";

/**
 * GET /files/{id}/status: where an upload stands, as JSON — its state, progress, and while
 * someone is sending it, the transfer rate over the last minute and the ETA. For a final upload: its parts, which are complete, and the byte
 * ranges still missing. Takes no lock, so it never disturbs a transfer. A terminated or expired
 * upload answers too, while its tombstone is kept.
 */
export async function status(asked: Context): Promise<Response> {
  const id = asked.id!;
  // An admin token sees every owner's uploads (read-only: here and in the listing).
  const { owner: _owner, ...anyOwner } = asked;
  const ctx: Context = asked.admin ? anyOwner : asked;
  const record = await findRecord(ctx, id);
  if (!record) throw new UploadError(404, "not-found", `Upload ${id} not found`);
  const now = ctx.deps.now();
  const live = stateOf(record, now, expiresAt(ctx.deps, record));
  const info = live === "terminated" || live === "expired" ? record : await loadForReading(ctx, id);
  return Response.json(await describe(ctx, info), { headers: { "Cache-Control": "no-store" } });
}

/** The JSON view of one upload (status endpoint and listing). */
export async function describe(
  ctx: Context,
  info: UploadInfo,
  options: { parts?: boolean } = { parts: true },
): Promise<UploadStatus> {
  const now = ctx.deps.now();
  const expires = expiresAt(ctx.deps, info);
  const state = stateOf(info, now, expires);
  const parts = options.parts && !isComplete(info) && !info.ended ? await partsOf(ctx, info) : [];
  const received = parts.length > 0 ? parts.reduce((n, p) => n + p.offset, 0) : info.offset;
  const live = state === "created" || state === "uploading" || state === "assembling";
  // An upload nobody is sending has no rate and no ETA, however recent its last bytes.
  const rate = live && ctx.deps.progress.sending(info.id)
    ? ctx.deps.progress.rate(info.id)
    : undefined;
  const eta = live
    ? etaSeconds(info.length === undefined ? undefined : info.length - received, rate)
    : undefined;
  return {
    id: info.id,
    url: uploadUrl(ctx, info.id),
    state,
    length: info.length ?? null,
    offset: info.offset,
    received,
    complete: isComplete(info),
    percent: info.length === undefined
      ? null
      : info.length === 0
      ? 100
      : Math.floor((received / info.length) * 10_000) / 100,
    bytesPerSecond: rate === undefined ? null : Math.round(rate),
    etaSeconds: eta ?? null,
    concat: info.concat?.kind ?? null,
    ...(info.concat?.kind === "final" ? { parts } : {}),
    ...(options.parts ? { missing: info.ended ? [] : missingRanges(info, parts) } : {}),
    createdAt: new Date(info.createdAt).toISOString(),
    updatedAt: new Date(info.updatedAt).toISOString(),
    expiresAt: expires === undefined ? null : new Date(expires).toISOString(),
    ...(info.ended ? { endedAt: new Date(info.ended.at).toISOString() } : {}),
    ...defined({ owner: info.owner }),
    metadata: storedMetadata(info),
    digests: info.digests
      ? { md5: base64ToHex(info.digests.md5), sha256: base64ToHex(info.digests.sha256) }
      : null,
  };
}
