/** What the client does after a failed request, and how long it waits before the next one. */

export interface RetryPolicy {
  /** Attempts without progress before giving up. */
  retries: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 8, baseMs: 500, capMs: 30_000 };

/**
 * - `resync`: the offset disagrees (409): ask the server (HEAD) and continue from its word;
 * - `retry`: a network error, 5xx, 408, 423, 429 or 460 (checksum): wait, HEAD, continue;
 * - `restart`: the upload is gone (404/410): create a new one;
 * - `fatal`: any other 4xx: stop with the server's message.
 */
export type Verdict = "resync" | "retry" | "restart" | "fatal";

/** `status` undefined means the request never got an answer (network error). */
export function classify(status: number | undefined): Verdict {
  if (status === undefined) return "retry";
  if (status === 409) return "resync";
  if (status === 404 || status === 410) return "restart";
  // 408: the server cut a slow body (keeping its bytes); 460: the chunk failed its checksum on
  // the way. Both: ask for the offset and send again.
  if ([408, 423, 429, 460].includes(status) || status >= 500) return "retry";
  return "fatal";
}

/**
 * The longest `Retry-After` waited out in full. A rate-limited server may name a time far past
 * the backoff cap (`--rate-limit 100/1h`); asking sooner only spends attempts on refusals.
 */
export const RETRY_AFTER_MAX_MS = 3_600_000;

/**
 * Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)), but never less
 * than the server's `Retry-After` (seconds, up to RETRY_AFTER_MAX_MS) when it gave one.
 */
export function backoffMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfter?: string | null,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  const jittered = Math.floor(random() * ceiling);
  const after = retryAfter && /^\d{1,6}$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
  return Math.max(jittered, Math.min(after, RETRY_AFTER_MAX_MS));
}
