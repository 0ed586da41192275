import { UploadError } from "../../lib/errors.ts";
import { H } from "../../lib/protocol.ts";
import { checksumCheck } from "./checksum_check.ts";
import type { Context } from "./context.ts";
import { integerHeader } from "./headers.ts";
import { overQuota, sizeLimit } from "./limits.ts";
import type { Lock } from "../lock/locker.ts";
import { limitedAppend } from "../store/limited_append.ts";
import type { AppendResult, UploadInfo } from "../store/types.ts";
import { fromStore } from "./store_errors.ts";
import { screened } from "./type_policy.ts";

/**
 * Streams the request body into the upload at its committed offset (PATCH and POST with data).
 * The caller holds the lock and has matched the offset. Returns the new durable offset, and whether
 * the whole body was stored (not stopped part-way by a newer request); every other outcome is an
 * UploadError carrying the committed `Upload-Offset`.
 */
export async function appendBody(
  ctx: Context,
  info: UploadInfo,
  lock: Lock,
): Promise<{ offset: number; whole: boolean }> {
  const { store, shutdown, config, active, progress } = ctx.deps;
  const at = { [H.uploadOffset]: String(info.offset) };
  if (active.count >= config.maxActive) {
    // Refuse at once rather than queue: a waiting body would hold memory and a connection.
    ctx.deps.metrics.admissionRejections.add();
    throw new UploadError(
      503,
      "busy",
      `The server is writing ${active.count} uploads already; retry shortly`,
      { headers: { ...at, "Retry-After": "2" } },
    );
  }
  const declared = info.length !== undefined;
  const lengthRoom = (declared ? info.length! : sizeLimit(ctx.deps)) - info.offset;
  const quotaRoom = config.quota === undefined || !ctx.deps.usage
    ? Infinity
    : config.quota - ctx.deps.usage.of(info.owner ?? "") + (declared ? lengthRoom : 0);
  const room = Math.max(0, Math.min(lengthRoom, quotaRoom));
  const tooLarge = (offset: number, overBudget = false) =>
    overBudget || quotaRoom < lengthRoom
      ? overQuota(ctx, offset)
      : pastLength(info, offset, declared);
  const contentLength = integerHeader(ctx.req, "content-length");
  if (contentLength !== undefined && contentLength > room) throw tooLarge(info.offset);
  const checksum = checksumCheck(ctx);

  active.count++;
  progress.record(info.id, info.offset);
  let result: AppendResult;
  const signal = AbortSignal.any([lock.signal, shutdown]);
  try {
    const body = await screened(ctx, info, signal);
    const budget = ctx.deps.usage?.budget?.(info.id);
    result = await limitedAppend(store, info.id, info.offset, body, {
      maxBytes: room,
      signal,
      idleMs: config.idleTimeoutMs,
      minRate: config.minRate,
      onProgress: (bytes) => progress.record(info.id, info.offset + bytes),
      ...(budget ? { budget } : {}),
      ...(checksum ? { checksum } : {}),
    });
  } catch (error) {
    const e = fromStore(error);
    if (!(e instanceof UploadError) || e.status !== 507) throw error;
    // Disk full: say where the upload stands, so the client can resume once there is room.
    const now = (await store.get(info.id).catch(() => undefined))?.offset ?? info.offset;
    throw new UploadError(507, e.code, e.message, {
      headers: { [H.uploadOffset]: String(now) },
      cause: error,
    });
  } finally {
    active.count--;
  }
  if (result.offsetMismatch) {
    // Another writer got in between the caller's check and the store (a lock lost elsewhere).
    throw new UploadError(
      409,
      "offset-mismatch",
      `Upload ${info.id} holds ${result.offset} bytes, not ${info.offset}`,
      { headers: { [H.uploadOffset]: String(result.offset) } },
    );
  }
  ctx.meta.bytes += result.offset - info.offset;
  ctx.deps.metrics.bytesReceived.add(result.offset - info.offset);
  const offset = { [H.uploadOffset]: String(result.offset) };
  if (result.noRoom !== undefined) {
    throw new UploadError(413, "too-large", result.noRoom, { headers: offset });
  }
  if (result.overflow) throw tooLarge(result.offset, result.overBudget);
  if (result.checksumMismatch) {
    throw new UploadError(
      460,
      "checksum-mismatch",
      `Upload-Checksum does not match the body; the chunk was discarded (offset stays ${result.offset})`,
      { headers: offset },
    );
  }
  if (result.idle) {
    throw new UploadError(
      408,
      "idle",
      `The request body sent less than ${config.minRate} bytes/s over ` +
        `${config.idleTimeoutMs / 1000} s; ${result.offset - info.offset} bytes of it are stored`,
      { headers: offset },
    );
  }
  if (result.stopped && shutdown.aborted) {
    throw new UploadError(
      503,
      "shutting-down",
      `Server is shutting down; ${result.offset} bytes of upload ${info.id} are stored`,
      { headers: { ...offset, "Retry-After": "5" } },
    );
  }
  const reason: unknown = lock.signal.reason;
  if (result.stopped && reason instanceof UploadError && reason.status !== 423) {
    // Stopped for the server's own trouble, not by a newer request (the lock's database session
    // ended, say): the client is told to retry, whatever of the body was stored.
    throw new UploadError(
      reason.status,
      reason.code,
      `${reason.message}; ${result.offset} bytes of upload ${info.id} are stored`,
      { headers: { ...reason.headers, ...offset }, cause: reason },
    );
  }
  if (result.stopped && result.offset === info.offset) {
    throw new UploadError(
      423,
      "taken-over",
      `Upload ${info.id} was taken over by a newer request`,
      {
        headers: { ...offset, "Retry-After": "1" },
      },
    );
  }
  if (result.bodyError !== undefined) {
    ctx.meta.clientClosed = true; // its answer has nowhere to go: logged as 499
    throw new UploadError(
      400,
      "body-incomplete",
      `Request body ended early; ${result.offset - info.offset} bytes of it are stored` +
        (checksum ? " (a checksummed body is stored whole or not at all)" : ""),
      { headers: offset, cause: result.bodyError },
    );
  }
  // Finished, or stopped by a newer request after storing some bytes: both are committed progress,
  // but only a finished body may complete the upload.
  return { offset: result.offset, whole: !result.stopped };
}

function pastLength(info: UploadInfo, offset: number, declared: boolean): UploadError {
  const why = declared
    ? `goes past Upload-Length ${info.length}`
    : "goes past the server's maximum upload size";
  return new UploadError(413, "too-large", `Request body for upload ${info.id} ${why}`, {
    headers: { [H.uploadOffset]: String(offset) },
  });
}
