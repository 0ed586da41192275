/**
 * Waiting with deadlines. Tests never sleep to synchronise: they poll a condition or race a
 * promise against a deadline, and fail with a message saying what they were waiting for.
 */

export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Pause between polls (default 20 ms). This paces polling; it is not synchronisation. */
  intervalMs?: number;
  /** What was awaited, for the timeout error. */
  message?: string | (() => string);
}

/** Thrown when a deadline passes. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * Polls `condition` until it returns a truthy value (returned) or the deadline passes (throws
 * TimeoutError naming `message` and the last error `condition` threw, if any).
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 20, message = "a condition" }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const what = typeof message === "function" ? message() : message;
      const cause = lastError === undefined ? "" : `; last error: ${String(lastError)}`;
      throw new TimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what}${cause}`, {
        cause: lastError,
      });
    }
    await pause(Math.min(intervalMs, left));
  }
}

/** Like `waitFor`, but answers false at the deadline instead of throwing. */
export async function pollUntil(
  condition: () => unknown,
  options: Omit<WaitOptions, "message"> = {},
): Promise<boolean> {
  try {
    await waitFor(condition, options);
    return true;
  } catch (error) {
    if (error instanceof TimeoutError) return false;
    throw error;
  }
}

/** Resolves or rejects like `promise`, or rejects with TimeoutError after `timeoutMs`. */
export async function withDeadline<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`Timed out after ${timeoutMs} ms waiting for ${message}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
