import { UploadError } from "../../lib/errors.ts";
import { H, OFFSET_CONTENT_TYPE } from "../../lib/protocol.ts";
import { appendBody, assertLengthAllowed } from "../append.ts";
import { ietfHeaders, PARTIAL_UPLOAD_TYPE, uploadComplete } from "../ietf.ts";
import type { Lock } from "../lock/locker.ts";
import { isComplete, type UploadInfo } from "../store/types.ts";
import {
  type Context,
  digestHeaders,
  expiryHeaders,
  integerHeader,
  loadUpload,
  lockUpload,
  mediaType,
  uploadEvent,
  uploadUrl,
} from "../context.ts";

/** PATCH /files/{id}: append at exactly the committed offset; 204 only once the bytes are durable. */
export async function patch(ctx: Context): Promise<Response> {
  const { req, deps } = ctx;
  const id = ctx.id!;
  const expectedType = { tus: OFFSET_CONTENT_TYPE, ietf: PARTIAL_UPLOAD_TYPE, plain: undefined }[
    ctx.dialect
  ];
  if (expectedType && mediaType(req) !== expectedType) {
    throw new UploadError(415, "bad-content-type", `PATCH needs Content-Type: ${expectedType}`);
  }
  const completes = ctx.dialect === "ietf" ? uploadComplete(req) : undefined;
  if (ctx.dialect === "ietf" && completes === undefined) {
    throw new UploadError(400, "missing-upload-complete", "Upload-Complete (?0 or ?1) is required");
  }
  const offset = integerHeader(req, H.uploadOffset);
  if (offset === undefined) {
    throw new UploadError(400, "missing-offset", "Upload-Offset is required on PATCH");
  }
  const newLength = integerHeader(req, H.uploadLength);
  integerHeader(req, "content-length"); // refuse a malformed one before taking the lock

  await using lock = await lockUpload(ctx, id);
  const loaded = await loadUpload(ctx, id);
  try {
    return await patchLoaded(ctx, loaded, lock, { offset, completes, newLength });
  } catch (error) {
    // tus: every PATCH response carries Upload-Expires while the upload can expire — refusals
    // (409, 413, 460…) too, not only the 204. From before this request: never later than true.
    if (error instanceof UploadError && error.status !== 404 && error.status !== 410) {
      for (const [name, value] of Object.entries(expiryHeaders(deps, loaded))) {
        error.headers[name] ??= value;
      }
    }
    throw error;
  }
}

/** The PATCH once its upload is locked and loaded. */
async function patchLoaded(
  ctx: Context,
  loaded: UploadInfo,
  lock: Lock,
  asked: { offset: number; completes: boolean | undefined; newLength: number | undefined },
): Promise<Response> {
  const { deps } = ctx;
  const id = loaded.id;
  const { offset, completes, newLength } = asked;
  let info = loaded;
  const wasComplete = isComplete(info);
  if (info.concat?.kind === "final") {
    throw new UploadError(403, "final-upload", `Upload ${id} is a final upload: PATCH its parts`);
  }
  if (newLength !== undefined && newLength !== info.length) {
    if (info.length !== undefined) {
      throw new UploadError(
        400,
        "length-fixed",
        `Upload-Length of upload ${id} is already ${info.length} and cannot change`,
      );
    }
    assertLengthAllowed(ctx, newLength, info.offset);
    if (newLength < info.offset) {
      throw new UploadError(
        400,
        "length-too-small",
        `Upload-Length ${newLength} is less than the ${info.offset} bytes already stored`,
      );
    }
  }
  if (ctx.dialect === "ietf" && isComplete(info)) {
    throw new UploadError(400, "completed-upload", `Upload ${id} is already complete`);
  }
  if (offset !== info.offset) {
    throw new UploadError(
      409,
      "offset-mismatch",
      `Upload-Offset ${offset} does not match the ${info.offset} bytes stored for upload ${id}`,
      { headers: { [H.uploadOffset]: String(info.offset) } },
    );
  }
  if (newLength !== undefined && info.length === undefined) {
    await deps.store.declareLength(id, newLength);
    info = { ...info, length: newLength };
  }
  const committed = await appendBody(ctx, info, lock);
  // Expiry counts from the last write: a PATCH that stored nothing doesn't renew it.
  info = {
    ...info,
    offset: committed,
    updatedAt: committed > info.offset ? deps.now() : info.updatedAt,
  };
  if (completes) await completeIetf(ctx, info);
  const digests = await digestHeaders(ctx, info); // records info.digests for the event
  // Completed by this request — by its bytes, or by declaring a length the bytes already meet.
  if (!wasComplete && isComplete(info)) {
    await uploadEvent(deps, "completed", info, uploadUrl(ctx, id));
  }
  return new Response(null, {
    status: 204,
    headers: {
      [H.uploadOffset]: String(committed),
      ...expiryHeaders(deps, info),
      ...digests,
      ...(ctx.dialect === "ietf" ? ietfHeaders(deps, info) : {}),
    },
  });
}

/** The draft's `Upload-Complete: ?1`: the upload ends here; its length is what it now holds. */
async function completeIetf(ctx: Context, info: UploadInfo): Promise<void> {
  if (info.length === undefined) {
    await ctx.deps.store.declareLength(info.id, info.offset);
    info.length = info.offset;
  } else if (info.length !== info.offset) {
    throw new UploadError(
      400,
      "inconsistent-length",
      `Upload-Complete: ?1 at ${info.offset} bytes, but the upload's length is ${info.length}`,
      { headers: { [H.uploadOffset]: String(info.offset) } },
    );
  }
}
