/** What the client does after a failed request, and how long it waits before the next one. */
import { UploadError } from "../../lib/errors.ts";

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

/**
 * Until some server has answered during this run, a network failure gets only this many quick
 * tries: a wrong address or a stopped server should be said at once, not after the backoff
 * meant for a network that fails mid-upload.
 */
export const FIRST_CONTACT: RetryPolicy = { retries: 2, baseMs: 250, capMs: 1000 };

/** Whether a server has answered during this run, and the failed tries before it did. */
export class Contact {
  answered = false;
  failures = 0;

  /** After a network failure while nothing has answered: the delay before the next try, or
   * undefined when the quick tries (no more than `policy.retries`) are used up. */
  retryDelay(policy: RetryPolicy): number | undefined {
    this.failures++;
    if (this.failures > Math.min(policy.retries, FIRST_CONTACT.retries)) return undefined;
    return Math.min(FIRST_CONTACT.capMs, FIRST_CONTACT.baseMs * 2 ** (this.failures - 1));
  }

  /** The final error once the quick tries are used up: the last failure, in its own words. */
  giveUp(last: UploadError): UploadError {
    const tries = this.failures;
    return new UploadError(
      0,
      "gave-up",
      `${last.message} (${tries} ${tries === 1 ? "try" : "tries"}; nothing answered)`,
      { cause: last },
    );
  }
}
