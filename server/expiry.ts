import { type Deps, expiresAt } from "./context.ts";

/** Garbage from interrupted operations is collected once it is this old. */
const GARBAGE_AGE_MS = 3_600_000;

/**
 * Deletes unfinished uploads whose expiry has passed. Uploads with a request in flight are skipped
 * (their lock is busy, and a write would renew them anyway). Returns how many were deleted.
 */
export async function sweepExpired(
  deps: Pick<Deps, "store" | "locker" | "config" | "now">,
): Promise<number> {
  const { store, locker, now } = deps;
  let removed = 0;
  // Leftovers of interrupted operations are collected even when uploads never expire.
  await store.collectGarbage?.(now() - GARBAGE_AGE_MS);
  if (deps.config.expireMs <= 0) return 0;
  for await (const id of store.list()) {
    const lock = locker.tryAcquire(id);
    if (!lock) continue;
    await using _lock = lock;
    const info = await store.get(id);
    const at = info && expiresAt(deps, info);
    if (at !== undefined && at <= now() && await store.remove(id)) removed++;
  }
  return removed;
}
