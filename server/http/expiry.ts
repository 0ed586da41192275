import { H } from "../../lib/protocol.ts";
import type { Deps } from "./deps.ts";
import { isComplete, type UploadInfo } from "../store/types.ts";
import { uploadEvent } from "./upload_events.ts";

/** Garbage from interrupted operations is collected once it is this old. */
const GARBAGE_AGE_MS = 3_600_000;
/** Tombstones of terminated and expired uploads are kept this long (status and listing). */
export const TOMBSTONE_AGE_MS = 7 * 24 * 3_600_000;

/** When an unfinished upload expires, or undefined if it never does. */
export function expiresAt(deps: Pick<Deps, "config">, info: UploadInfo): number | undefined {
  // A final upload waits for its parts, which expire on their own; a tombstone has ended.
  if (
    deps.config.expireMs <= 0 || isComplete(info) || info.concat?.kind === "final" || info.ended
  ) {
    return undefined;
  }
  return info.updatedAt + deps.config.expireMs;
}

/** `Upload-Expires` when the upload can expire. */
export function expiryHeaders(
  deps: Pick<Deps, "config">,
  info: UploadInfo,
): Record<string, string> {
  const at = expiresAt(deps, info);
  return at === undefined ? {} : { [H.uploadExpires]: new Date(at).toUTCString() };
}

/**
 * Deletes unfinished uploads whose expiry has passed. Uploads with a request in flight are skipped
 * (their lock is busy, and a write would renew them anyway). Each is counted and announced to
 * the hooks (`post-expire`). Recounts the unfinished uploads for the metrics, even without
 * expiry. Returns how many were deleted.
 */
export async function sweepExpired(
  deps: Pick<Deps, "store" | "locker" | "config" | "now" | "metrics" | "events"> & {
    /** Aborts at shutdown: the sweep stops at the next upload. */
    stop?: AbortSignal;
  },
): Promise<number> {
  const { store, locker, now } = deps;
  let removed = 0;
  // Leftovers of interrupted operations are collected even when uploads never expire.
  await store.collectGarbage?.(now() - GARBAGE_AGE_MS, now() - TOMBSTONE_AGE_MS);
  let unfinished = 0;
  for await (const id of store.list()) {
    if (deps.stop?.aborted) return removed; // (the gauge is not recounted from half a walk)
    const seen = await store.get(id).catch(() => undefined);
    if (!seen || seen.ended || isComplete(seen)) continue;
    const at = expiresAt(deps, seen);
    if (at === undefined || at > now()) {
      unfinished++;
      continue;
    }
    const lock = await locker.tryAcquire(id);
    if (!lock) {
      unfinished++; // busy: a request is writing it, so it isn't abandoned
      continue;
    }
    await using _lock = lock;
    const info = await store.get(id); // again, under the lock
    const due = info && expiresAt(deps, info);
    if (
      info && due !== undefined && due <= now() &&
      await store.remove(id, { state: "expired", at: now() })
    ) {
      removed++;
      await uploadEvent(deps, "expired", info);
    } else if (info && !info.ended && !isComplete(info)) {
      unfinished++;
    }
  }
  // The gauge kept by the upload events, recounted (it can drift by races with the walk).
  deps.metrics.activeUploads.set(unfinished);
  return removed;
}
