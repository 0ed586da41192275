import { parseChecksum } from "../lib/checksum.ts";
import { toUploadError, UploadError } from "../lib/errors.ts";
import { H } from "../lib/protocol.ts";
import { declaredMatches, SNIFF_BYTES, sniffType, typeAllowed } from "../lib/sniff.ts";
import {
  type Context,
  integerHeader,
  sizeLimit,
  storedMetadata,
  uploadEvent,
  uploadUrl,
} from "./context.ts";
import type { Lock } from "./lock/locker.ts";
import type { AppendResult, ChecksumCheck, UploadInfo } from "./store/types.ts";

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
    result = await store.append(info.id, info.offset, body, {
      maxBytes: room,
      signal,
      idleMs: config.idleTimeoutMs,
      minRate: config.minRate,
      onProgress: (bytes) => progress.record(info.id, info.offset + bytes),
      ...(checksum ? { checksum } : {}),
    });
  } catch (error) {
    const e = toUploadError(error);
    if (e.status !== 507) throw error;
    // Disk full: say where the upload stands, so the client can resume once there is room.
    const now = (await store.get(info.id).catch(() => undefined))?.offset ?? info.offset;
    throw new UploadError(507, e.code, e.message, {
      headers: { [H.uploadOffset]: String(now) },
      cause: error,
    });
  } finally {
    active.count--;
  }
  ctx.meta.bytes += result.offset - info.offset;
  ctx.deps.metrics.bytesReceived.add(result.offset - info.offset);
  const offset = { [H.uploadOffset]: String(result.offset) };
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

/**
 * The body to store. With `--allow-types`, the first bytes of an upload are sniffed before any is
 * written: a type not allowed, or one its `filetype` metadata disguises, discards the upload (415).
 * Parts of a concatenation are checked as the final upload, when it is assembled.
 */
async function screened(
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

/**
 * Reads up to `n` bytes of a body (fewer if it ends), giving them and a stream of the whole body
 * (those bytes, then the rest). All `n` must come within `deadlineMs` — one deadline, so a drip
 * can't stretch it — and a newer request or shutdown (`signal`) stops the wait at once.
 */
async function peek(
  body: ReadableStream<Uint8Array>,
  n: number,
  deadlineMs: number,
  signal: AbortSignal,
) {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), deadlineMs);
    signal.addEventListener("abort", () => resolve(null), { once: true });
  });
  try {
    while (size < n && !signal.aborted) {
      const next = await Promise.race([
        reader.read().catch(() => ({ done: true as const, value: undefined })),
        late,
      ]);
      if (next === null || next.done) {
        ended = next !== null;
        break;
      }
      chunks.push(next.value);
      size += next.value.length;
    }
  } finally {
    clearTimeout(timer);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  reader.releaseLock();
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (all.length > 0) controller.enqueue(all);
      controller.close();
    },
  });
  return {
    head: all.subarray(0, n),
    ended,
    rest: ended ? rest : concatStreams(rest, body),
  };
}

function concatStreams(
  first: ReadableStream<Uint8Array>,
  second: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const readers = [first.getReader(), second.getReader()];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (readers.length > 0) {
        const next = await readers[0]!.read();
        if (!next.done) return controller.enqueue(next.value);
        readers.shift();
      }
      controller.close();
    },
    async cancel(reason) {
      await Promise.all(readers.map((r) => r.cancel(reason)));
    },
  });
}

function pastLength(info: UploadInfo, offset: number, declared: boolean): UploadError {
  const why = declared
    ? `goes past Upload-Length ${info.length}`
    : "goes past the server's maximum upload size";
  return new UploadError(413, "too-large", `Request body for upload ${info.id} ${why}`, {
    headers: { [H.uploadOffset]: String(offset) },
  });
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

/**
 * The checksum the body must match: from `Upload-Checksum` (parsed now, so a bad one is refused
 * before any byte is read), or — checksum-trailer — from the trailer the client announced with
 * `Trailer: Upload-Checksum`, read once the body has ended.
 */
export function checksumCheck(ctx: Context): ChecksumCheck | undefined {
  const header = ctx.req.headers.get(H.uploadChecksum);
  if (header !== null) {
    const checksum = parseChecksum(header);
    return { algorithm: checksum.algorithm, expected: () => Promise.resolve(checksum) };
  }
  const announced = /(^|,)\s*upload-checksum\s*(,|$)/i.test(ctx.req.headers.get("trailer") ?? "");
  const trailers = ctx.deps.trailers;
  if (!announced || !trailers) return undefined;
  return {
    async expected() {
      const value = (await trailers(ctx.req)).get(H.uploadChecksum);
      if (value === null) {
        throw new UploadError(
          400,
          "missing-checksum-trailer",
          "Trailer: Upload-Checksum was announced but no Upload-Checksum trailer arrived",
        );
      }
      return parseChecksum(value);
    },
  };
}
