import { UploadError } from "../../../lib/errors.ts";
import { H, OFFSET_CONTENT_TYPE } from "../../../lib/protocol.ts";
import { appendBody } from "../append.ts";
import { assertLengthAllowed } from "../limits.ts";
import {
  completeUpload,
  draftInteger,
  draftOf,
  endIfOverflowed,
  ietfHeaders,
  inconsistentLength,
  requestCompletes,
} from "../ietf.ts";
import type { Lock } from "../../lock/locker.ts";
import { isComplete, type UploadInfo } from "../../store/types.ts";
import type { Context } from "../context.ts";
import { digestHeaders } from "../digests.ts";
import { expiryHeaders } from "../expiry.ts";
import { integerHeader, mediaType } from "../headers.ts";
import { loadUpload, lockUpload } from "../lookup.ts";
import { fromStore } from "../store_errors.ts";
import { uploadEvent } from "../upload_events.ts";
import { uploadUrl } from "../urls.ts";

/** PATCH /files/{id}: append at exactly the committed offset; 2xx only once the bytes are durable. */
export async function patch(ctx: Context): Promise<Response> {
  const { req, deps } = ctx;
  const id = ctx.id!;
  const rules = ctx.dialect === "ietf" ? draftOf(ctx) : undefined;
  const expectedType = ctx.dialect === "tus" ? OFFSET_CONTENT_TYPE : rules?.appendType;
  if (expectedType && mediaType(req) !== expectedType) {
    throw new UploadError(415, "bad-content-type", `PATCH needs Content-Type: ${expectedType}`);
  }
  const completes = rules ? requestCompletes(ctx, "append") : undefined;
  const integer = (name: string) => rules ? draftInteger(ctx, name) : integerHeader(req, name);
  const offset = integer(H.uploadOffset);
  if (offset === undefined) {
    throw new UploadError(400, "missing-offset", "Upload-Offset is required on PATCH");
  }
  const newLength = integer(H.uploadLength);
  const contentLength = integerHeader(req, "content-length"); // refused if malformed, before the lock
  const completingBody = completes ? bodyLength(req, contentLength) : undefined;

  await using lock = await lockUpload(ctx, id);
  const loaded = await loadUpload(ctx, id);
  try {
    return await patchLoaded(ctx, loaded, lock, { offset, completes, newLength, completingBody });
  } catch (thrown) {
    // tus: every PATCH response carries Upload-Expires while the upload can expire — refusals
    // (409, 413, 460…) too, not only the 204. From before this request: never later than true.
    const error = fromStore(thrown);
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
  asked: {
    offset: number;
    completes: boolean | undefined;
    newLength: number | undefined;
    /** The body's length when this append completes the upload (undefined if unknown). */
    completingBody: number | undefined;
  },
): Promise<Response> {
  const { deps } = ctx;
  const id = loaded.id;
  const rules = ctx.draft;
  const { offset, completes, completingBody } = asked;
  let newLength = asked.newLength;
  let info = loaded;
  const wasComplete = isComplete(info);
  if (info.concat?.kind === "final") {
    throw new UploadError(403, "final-upload", `Upload ${id} is a final upload: PATCH its parts`);
  }
  const at = { [H.uploadOffset]: String(info.offset) };
  if (rules && isComplete(info)) {
    throw new UploadError(400, "completed-upload", `Upload ${id} is already complete`, {
      headers: at,
    });
  }
  if (offset !== info.offset) {
    throw new UploadError(
      409,
      "offset-mismatch",
      `Upload-Offset ${offset} does not match the ${info.offset} bytes stored for upload ${id}`,
      { headers: at },
    );
  }
  if (rules) newLength = draftLength(info, newLength, completingBody);
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
    await deps.store.declareLength(id, newLength);
    info = { ...info, length: newLength };
  }
  let appended;
  try {
    appended = await appendBody(ctx, info, lock);
  } catch (error) {
    if (rules) await endIfOverflowed(ctx, info, error);
    throw error;
  }
  const committed = appended.offset;
  // Expiry counts from the last write: a PATCH that stored nothing doesn't renew it.
  info = {
    ...info,
    offset: committed,
    updatedAt: committed > info.offset ? deps.now() : info.updatedAt,
  };
  if (completes && appended.whole) await completeUpload(ctx, info);
  const digests = await digestHeaders(ctx, info); // records info.digests for the event
  // Completed by this request — by its bytes, or by declaring a length the bytes already meet.
  if (!wasComplete && isComplete(info)) {
    await uploadEvent(deps, "completed", info, uploadUrl(ctx, id));
  }
  return new Response(null, {
    status: rules?.appendStatus ?? 204,
    headers: {
      [H.uploadOffset]: String(committed),
      ...expiryHeaders(deps, info),
      ...digests,
      ...(rules ? ietfHeaders(ctx, info) : {}),
    },
  });
}

/** The body's length: 0 without one, undefined when unknown (chunked). */
function bodyLength(req: Request, contentLength: number | undefined): number | undefined {
  return contentLength ?? (req.body === null ? 0 : undefined);
}

/**
 * The draft's two length indications on an append — `Upload-Length`, and the offset plus the
 * body's length when it completes the upload — which must agree with each other and with a length
 * given before (400 otherwise). Returns the length they indicate, if any.
 */
function draftLength(
  info: UploadInfo,
  declared: number | undefined,
  completingBody: number | undefined,
): number | undefined {
  const implied = completingBody === undefined ? undefined : info.offset + completingBody;
  if (declared !== undefined && implied !== undefined && declared !== implied) {
    throw inconsistentLength(
      `Upload-Length ${declared}, but the completing body ends the upload at ${implied}`,
      info.offset,
    );
  }
  const length = declared ?? implied;
  if (length !== undefined && info.length !== undefined && length !== info.length) {
    throw inconsistentLength(
      `This append makes the upload ${length} bytes long, but its length is ${info.length}`,
      info.offset,
    );
  }
  return length;
}
