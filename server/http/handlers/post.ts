import { defined } from "../../../lib/defined.ts";
import { UploadError } from "../../../lib/errors.ts";
import { newUploadId } from "../../../lib/ids.ts";
import { parseMetadataHeader } from "../../../lib/metadata.ts";
import { H, OFFSET_CONTENT_TYPE } from "../../../lib/protocol.ts";
import { appendBody } from "../append.ts";
import { assertLengthAllowed } from "../limits.ts";
import { assembleIfReady, finalLength, parseConcat } from "../concat.ts";
import {
  announceUpload,
  completeUpload,
  draftInteger,
  endIfOverflowed,
  ietfHeaders,
  inconsistentLength,
  requestCompletes,
} from "../ietf.ts";
import { isComplete, type NewUpload } from "../../store/types.ts";
import { assertCreationAllowed } from "../rate_limit.ts";
import type { Context } from "../context.ts";
import { digestHeaders } from "../digests.ts";
import { expiryHeaders } from "../expiry.ts";
import { integerHeader, mediaType } from "../headers.ts";
import { sizeLimit } from "../limits.ts";
import { preCreateHook, uploadEvent } from "../upload_events.ts";
import { uploadUrl } from "../urls.ts";

/** POST /files: creation, creation-defer-length and creation-with-upload. */
export async function post(ctx: Context): Promise<Response> {
  const { req, deps } = ctx;
  await assertReady(ctx); // first: nothing may await between the quota check and the creation
  const concatValue = req.headers.get(H.uploadConcat);
  const concat = concatValue === null ? undefined : parseConcat(ctx, concatValue);
  if (concat?.kind === "final") return await postFinal(ctx, concat.parts);
  const ietf = ctx.dialect === "ietf";
  const complete = ietf ? requestCompletes(ctx, "creation") : undefined;
  const contentLength = integerHeader(req, "content-length");
  // HTTP/1.1: a body is announced by Content-Length or Transfer-Encoding (Deno always gives a stream).
  const hasBody = req.body !== null &&
    (contentLength === undefined ? req.headers.has("transfer-encoding") : contentLength > 0);
  const bodyLength = hasBody ? contentLength : 0; // undefined: chunked
  const declared = ietf ? draftInteger(ctx, H.uploadLength) : integerHeader(req, H.uploadLength);
  // The draft: a creation that completes the upload gives its length as the body's.
  if (complete && declared !== undefined && bodyLength !== undefined && declared !== bodyLength) {
    throw inconsistentLength(
      `Upload-Length ${declared} but a complete body of ${bodyLength} bytes`,
    );
  }
  const length = declared ?? (complete ? bodyLength : undefined);
  const defer = req.headers.get(H.uploadDeferLength);
  if (defer !== null && defer !== "1") {
    throw new UploadError(400, "bad-defer-length", `Upload-Defer-Length must be 1, got ${defer}`);
  }
  if (defer !== null && length !== undefined) {
    throw new UploadError(
      400,
      "conflicting-length",
      "Send either Upload-Length or Upload-Defer-Length, not both",
    );
  }
  if (ctx.dialect === "tus" && defer === null && length === undefined) {
    throw new UploadError(
      400,
      "missing-length",
      "Upload-Length or Upload-Defer-Length: 1 is required",
    );
  }
  if (length !== undefined) assertLengthAllowed(ctx, length);
  // Validated, then kept exactly as the client sent it: HEAD echoes it unchanged.
  const metadata = (req.headers.get(H.uploadMetadata) ?? "").trim();
  parseMetadataHeader(metadata);
  if (hasBody && !ietf && mediaType(req) !== OFFSET_CONTENT_TYPE) {
    throw new UploadError(
      415,
      "bad-content-type",
      `A POST body must be ${OFFSET_CONTENT_TYPE} (the upload's first bytes), or empty`,
    );
  }
  if (hasBody && contentLength !== undefined && contentLength > (length ?? sizeLimit(deps))) {
    throw new UploadError(413, "too-large", "The POST body is longer than the upload");
  }

  const upload: NewUpload = {
    id: newUploadId(),
    ...defined({ length }),
    metadata,
    createdAt: deps.now(),
    ...(concat ? { concat: { kind: "partial" } } : {}),
    ...defined({ owner: ctx.owner }),
  };
  await assertCreationAllowed(ctx); // a valid request only: a malformed one costs nothing
  await preCreateHook(ctx, upload);
  // Checked again after the hook's await, with no await between it and the reservation (see
  // AccountedStore.create): concurrent creations can't all slip under the quota.
  if (length !== undefined) assertLengthAllowed(ctx, length);
  const id = upload.id;
  ctx.meta.uploadId = id;
  let info = await deps.store.create(upload);
  const url = uploadUrl(ctx, id);
  if (hasBody) {
    // The draft's 104: the client learns the URL now, and can resume if the body is cut.
    const announced = ietf && announceUpload(ctx, info);
    await using lock = await deps.locker.acquire(id);
    try {
      const appended = await appendBody(ctx, info, lock);
      info = { ...info, offset: appended.offset, updatedAt: deps.now() };
      if (complete && appended.whole) await completeUpload(ctx, info);
    } catch (error) {
      if (!announced) {
        // The client never learnt the upload's URL: don't leave an unreachable upload behind.
        await deps.store.remove(id);
        throw error;
      }
      // Announced: the upload stays with what arrived, for the client to resume (unless it was
      // refused and discarded already, e.g. a type --allow-types doesn't allow).
      const kept = await deps.store.get(id);
      if (kept && !kept.ended) {
        await uploadEvent(deps, "created", kept, url);
        await endIfOverflowed(ctx, kept, error);
      }
      throw error;
    }
  }
  await uploadEvent(deps, "created", info, url);
  const digests = await digestHeaders(ctx, info); // records info.digests for the event
  if (isComplete(info)) await uploadEvent(deps, "completed", info, url);
  const headers = new Headers({
    Location: url,
    [H.uploadOffset]: String(info.offset),
    ...expiryHeaders(deps, info),
    ...digests,
    ...(ietf ? ietfHeaders(ctx, info) : {}),
  });
  if (ctx.dialect !== "plain") return new Response(null, { status: 201, headers });
  return Response.json({
    id,
    url,
    offset: info.offset,
    ...defined({ length }),
  }, { status: 201, headers });
}

/**
 * POST with `Upload-Concat: final;…`: a final upload made of partial ones. Its length is theirs
 * summed; it is assembled now if every part is complete, otherwise once they are
 * (concatenation-unfinished).
 */
async function postFinal(ctx: Context, parts: string[]): Promise<Response> {
  const { req, deps } = ctx;
  if (req.headers.has(H.uploadLength) || req.headers.has(H.uploadDeferLength)) {
    throw new UploadError(
      400,
      "bad-concat",
      "A final upload takes no Upload-Length: it is the sum of its parts",
    );
  }
  const contentLength = integerHeader(req, "content-length");
  if ((contentLength ?? 0) > 0 || req.headers.has("transfer-encoding")) {
    throw new UploadError(400, "bad-concat", "A final upload takes no body");
  }
  const metadata = (req.headers.get(H.uploadMetadata) ?? "").trim();
  parseMetadataHeader(metadata);
  const length = await finalLength(ctx, parts);
  if (length > sizeLimit(deps)) {
    throw new UploadError(
      413,
      "too-large",
      `The parts add up to ${length} bytes, more than the server's maximum of ${deps.config.maxSize}`,
    );
  }
  assertLengthAllowed(ctx, length);
  const upload: NewUpload = {
    id: newUploadId(),
    length,
    metadata,
    createdAt: deps.now(),
    concat: { kind: "final", parts },
    ...defined({ owner: ctx.owner }),
  };
  await assertCreationAllowed(ctx);
  await preCreateHook(ctx, upload);
  // The parts again: one may have been deleted while the hook answered.
  if ((await finalLength(ctx, parts)) !== length) {
    throw new UploadError(409, "parts-changed", "The parts changed while the upload was checked");
  }
  assertLengthAllowed(ctx, length); // again after the hook's await, right before the reservation
  const id = upload.id;
  ctx.meta.uploadId = id;
  let info = await deps.store.create(upload);
  try {
    // A part deleted since is refused here (410): the final, never announced, goes too.
    for (const part of new Set(parts)) await deps.store.addFinal(part, id);
  } catch (error) {
    await deps.store.remove(id);
    throw error;
  }
  const url = uploadUrl(ctx, id);
  await uploadEvent(deps, "created", info, url);
  {
    await using _lock = await deps.locker.acquire(id);
    info = await assembleIfReady(ctx, info);
  }
  const headers = new Headers({ Location: url, ...(await digestHeaders(ctx, info)) });
  if (isComplete(info)) headers.set(H.uploadOffset, String(info.offset));
  if (ctx.dialect !== "plain") return new Response(null, { status: 201, headers });
  return Response.json({ id, url, length, complete: isComplete(info) }, { status: 201, headers });
}

/** New uploads are refused (507) while the data directory is not ready (low on space). */
async function assertReady(ctx: Context): Promise<void> {
  const state = await ctx.deps.readiness?.();
  if (state && !state.ready) {
    if (state.unavailable) {
      throw new UploadError(503, "not-ready", `Not accepting new uploads: ${state.reason}`, {
        headers: { "Retry-After": "5" },
      });
    }
    throw new UploadError(507, "not-ready", `Not accepting new uploads: ${state.reason}`);
  }
}
