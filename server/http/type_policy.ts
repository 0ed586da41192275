import { UploadError } from "../../lib/errors.ts";
import { H } from "../../lib/protocol.ts";
import { declaredMatches, SNIFF_BYTES, sniffType, typeAllowed } from "../../lib/sniff.ts";
import { peek } from "../../lib/streams.ts";
import type { Context } from "./context.ts";
import type { UploadInfo } from "../store/types.ts";
import { storedMetadata } from "./stored_metadata.ts";
import { uploadEvent } from "./upload_events.ts";
import { uploadUrl } from "./urls.ts";

/**
 * The body to store. With `--allow-types`, the first bytes of an upload are sniffed before any is
 * written: a type not allowed, or one its `filetype` metadata disguises, discards the upload (415).
 * Parts of a concatenation are checked as the final upload, when it is assembled.
 */
export async function screened(
  ctx: Context,
  info: UploadInfo,
  signal: AbortSignal,
): Promise<ReadableStream<Uint8Array> | null> {
  const body = ctx.req.body;
  const allowed = ctx.deps.config.allowTypes;
  if (!allowed || !body || info.offset !== 0 || info.concat?.kind === "partial") return body;
  const { head, ended, rest } = await peek(
    body,
    SNIFF_BYTES,
    ctx.deps.config.idleTimeoutMs,
    signal,
  );
  // Taken over or shutting down meanwhile: judge nothing; the store stops before a byte is written.
  if (signal.aborted || (head.length === 0 && ended)) return rest;
  if (head.length === 0) {
    // Silent from the start: nothing to judge, nothing stored; the upload stays as it was.
    await rest.cancel();
    throw new UploadError(
      408,
      "idle",
      `The request body was silent for ${
        ctx.deps.config.idleTimeoutMs / 1000
      } s; nothing was stored`,
      { headers: { [H.uploadOffset]: String(info.offset) } },
    );
  }
  await assertAllowedType(ctx, info, head, ended && head.length === info.length);
  return rest;
}

/** 415 (and the upload discarded) unless `head` sniffs as an allowed, honestly declared type. */
export async function assertAllowedType(
  ctx: Context,
  info: UploadInfo,
  head: Uint8Array,
  complete: boolean,
): Promise<void> {
  const allowed = ctx.deps.config.allowTypes ?? [];
  const type = sniffType(head, complete);
  const declared = storedMetadata(info).filetype;
  const refuse = (message: string) => new UploadError(415, "type-not-allowed", message);
  if (!type || !typeAllowed(type, allowed)) {
    await discard(ctx, info);
    throw refuse(
      `Upload ${info.id} is ${type ?? "of an unrecognised type"}; this server accepts only ` +
        `${allowed.join(", ")}. The upload was discarded`,
    );
  }
  if (declared && !declaredMatches(declared, type)) {
    await discard(ctx, info);
    throw refuse(
      `Upload ${info.id} is declared as ${declared} but its bytes are ${type}. The upload was discarded`,
    );
  }
}

/**
 * Deletes an upload the server refuses. One this very POST is creating was never announced: it
 * just goes. One that exists already ends as terminated, like a DELETE (tombstone, event).
 */
async function discard(ctx: Context, info: UploadInfo): Promise<void> {
  const creating = ctx.method === "POST" && ctx.meta.uploadId === info.id;
  if (creating) {
    await ctx.deps.store.remove(info.id);
    return;
  }
  if (await ctx.deps.store.remove(info.id, { state: "terminated", at: ctx.deps.now() })) {
    ctx.deps.progress.forget(info.id);
    await uploadEvent(ctx.deps, "terminated", info, uploadUrl(ctx, info.id));
  }
}
