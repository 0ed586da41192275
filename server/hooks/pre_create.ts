/**
 * The `pre-create` hook: before an upload is created, its would-be event is POSTed to every hook
 * URL; any receiver may refuse it. Web APIs only (fetch), so the handler can call it.
 *
 * - 2xx from every receiver: the upload is created.
 * - 4xx: refused with that status, the receiver's message and its `Retry-After`.
 * - Anything else (5xx, 3xx, a network failure, no answer within the timeout): refused with 503 —
 *   fail closed, because a policy check (quota, content rules) that silently stops applying when
 *   its service is down is worse than a refusal clients retry (tus clients retry 503).
 */
import { UploadError } from "../../lib/errors.ts";
import { type HookEvent, hookHeaders } from "./events.ts";

/** Longest receiver message passed on to the client, in characters. */
export const MAX_MESSAGE = 300;
/** `Retry-After` sent when a receiver can't be asked and gave none. */
const UNAVAILABLE_RETRY_AFTER = "10";

export interface PreCreateOptions {
  urls: string[];
  timeoutMs: number;
  /** Aborts the calls (server shutdown). */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Hears why a receiver couldn't be asked (it is not told to the client in detail). */
  onUnavailable?: (url: string, reason: string) => void;
}

/** Asks every receiver at once; throws the first refusal, in the order of `urls`. */
export async function preCreate(event: HookEvent, options: PreCreateOptions): Promise<void> {
  const verdicts = await Promise.all(options.urls.map((url) => ask(url, event, options)));
  const refusal = verdicts.find((v) => v !== undefined);
  if (refusal) throw refusal;
}

async function ask(
  url: string,
  event: HookEvent,
  options: PreCreateOptions,
): Promise<UploadError | undefined> {
  const doFetch = options.fetch ?? fetch;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let res: Response;
  let text: string;
  try {
    res = await doFetch(url, {
      method: "POST",
      headers: hookHeaders(event),
      body: JSON.stringify(event),
      redirect: "manual",
      signal,
    });
    text = res.status >= 400 && res.status < 500 ? await readLimited(res, 4096) : "";
    await res.body?.cancel().catch(() => {});
  } catch (error) {
    const reason = timeout.aborted
      ? `no answer within ${options.timeoutMs} ms`
      : error instanceof Error
      ? error.message
      : String(error);
    options.onUnavailable?.(url, reason);
    return unavailable();
  }
  if (res.status >= 200 && res.status < 300) return undefined;
  if (res.status >= 400 && res.status < 500) {
    const retryAfter = res.headers.get("retry-after")?.trim();
    // Statuses that mean "refused" to a tus client pass through; others (401 without a
    // challenge, 404/410 "start over", 409 "resync") would send clients down the wrong path.
    const status = PASSED_THROUGH.has(res.status) ? res.status : 403;
    return new UploadError(status, "hook-refused", refusalMessage(text, res), {
      headers: retryAfter && RETRY_AFTER.test(retryAfter) ? { "Retry-After": retryAfter } : {},
    });
  }
  options.onUnavailable?.(url, `answered ${res.status}`);
  const retryAfter = res.headers.get("retry-after")?.trim();
  return unavailable(retryAfter && RETRY_AFTER.test(retryAfter) ? retryAfter : undefined);
}

/** A receiver's 4xx the client gets as is; any other 4xx becomes 403. */
const PASSED_THROUGH = new Set([400, 403, 413, 415, 422, 429]);

/** Seconds, or an HTTP date: letters, digits, spaces, commas, colons. */
const RETRY_AFTER = /^(\d{1,9}|[A-Za-z0-9 ,:]{1,40})$/;

function unavailable(retryAfter = UNAVAILABLE_RETRY_AFTER): UploadError {
  return new UploadError(
    503,
    "hook-unavailable",
    "New uploads can't be checked right now (the pre-create hook is unavailable); retry later",
    { headers: { "Retry-After": retryAfter } },
  );
}

/**
 * The receiver's reason, as one short line of plain text: the `message` (or `error`, or
 * `error.message`) of a JSON body, else the body text; control characters become spaces.
 */
export function refusalMessage(body: string, res: Pick<Response, "status" | "headers">): string {
  let text = body;
  if (/json/i.test(res.headers.get("content-type") ?? "")) {
    try {
      const value = JSON.parse(body);
      const picked = value?.message ?? value?.error?.message ?? value?.error;
      if (typeof picked === "string") text = picked;
    } catch {
      // Not JSON after all: use the text.
    }
  }
  // deno-lint-ignore no-control-regex
  text = text.replace(/[\x00-\x1f\x7f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim();
  if (text.length > MAX_MESSAGE) text = text.slice(0, MAX_MESSAGE - 1) + "…";
  return text || `Refused by the pre-create hook (HTTP ${res.status})`;
}

/** The body as text, reading at most `limit` bytes. */
async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
  return new TextDecoder().decode(bytes.subarray(0, limit));
}
