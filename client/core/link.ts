/**
 * The upload's line to the server: every request goes out through `send`, under the deadlines
 * (`deadline.ts`), with a failure put into words (`network_error.ts`) and an answer that isn't
 * 2xx made an UploadError; until the server has answered once, a network failure gets only the
 * quick tries of `Contact`. Runs in Deno and in a browser.
 */
import { UploadError } from "../../lib/errors.ts";
import { type Answer, type Deadlines, fetchWithin } from "./deadline.ts";
import { networkWords } from "./network_error.ts";
import { type Dialect, featuresOf, noFeatures, type ServerFeatures } from "./protocol.ts";
import type { Contact, RetryPolicy } from "./retry.ts";
import type { UploadEvent } from "./upload_events.ts";
import type { InformationalFetch, ProgressFetch } from "./upload_options.ts";
import { defined } from "../../lib/defined.ts";

/** What every request of an upload shares: how to send, the deadlines and the retry policy. */
export interface Link {
  endpoint: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  dialect: Dialect;
  fetch: typeof fetch;
  /** Used for a buffered request that wants its 1xx responses (see `UploadOptions`). */
  informationalFetch?: InformationalFetch;
  /** Used for a buffered request that wants its bytes counted as they go out. */
  progressFetch?: ProgressFetch;
  emit: (event: UploadEvent) => void;
  policy: RetryPolicy;
  deadlines: Deadlines;
  /** Shared by all requests of the run: until something answers, network failures fail fast. */
  contact: Contact;
}

/**
 * What a tus server offers, from OPTIONS. An answer that isn't 2xx means nothing to use (the
 * creation that follows reports any real problem); no answer is retried like any first contact.
 */
export async function discover(link: Link): Promise<ServerFeatures> {
  for (;;) {
    try {
      return featuresOf((await send(link, "OPTIONS", link.endpoint, {})).headers);
    } catch (error) {
      if (link.signal?.aborted) throw aborted(error);
      if (!(error instanceof UploadError)) throw error;
      if (error.status !== 0) return noFeatures();
      await waitForContact(link, error);
    }
  }
}

/**
 * After a network failure before anything answered: a short pause before the next quick try,
 * or the failure itself, in words, once those are used up.
 */
export async function waitForContact(link: Link, error: UploadError): Promise<void> {
  const delayMs = link.contact.retryDelay(link.policy);
  if (delayMs === undefined) throw link.contact.giveUp(error);
  link.emit({ type: "retry", attempt: link.contact.failures, delayMs, reason: error.message });
  await (link.sleep ?? sleep)(delayMs, link.signal);
}

export function aborted(cause: unknown): UploadError {
  return new UploadError(0, "aborted", "Upload aborted", { cause });
}

/** What a request wants to hear while it is under way. */
export interface Listeners {
  /** Each 1xx response, where the link has an informational fetch (a buffered body only). */
  onInformational?: (status: number, headers: Headers) => void;
  /** How many bytes of the body are out, where the link has a progress fetch (buffered only). */
  onSent?: (bytes: number) => void;
}

/**
 * Sends one request under the link's deadlines; a non-2xx answer or a network failure (in
 * words) becomes an UploadError. A buffered request with listeners goes through the link's
 * informational or progress fetch, where it has one.
 */
export async function send(
  link: Link,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>,
  { onInformational, onSent }: Listeners = {},
): Promise<Answer> {
  const { informationalFetch, progressFetch } = link;
  const buffered = body instanceof Uint8Array ? body : undefined;
  // The fetch the deadlines wrap, for a request they hand their own headers and signal.
  const via = <T>(
    special: (url: string, init: Parameters<ProgressFetch>[1], listener: T) => Promise<Response>,
    bytes: Uint8Array<ArrayBuffer>,
    listener: T,
  ): typeof fetch =>
  (_input, init) =>
    special(url, {
      method,
      headers: init?.headers as Record<string, string>,
      body: bytes,
      ...defined({ signal: init?.signal ?? undefined }),
    }, listener);
  const fetchFn: typeof fetch = buffered && onInformational && informationalFetch
    ? via(informationalFetch, buffered, onInformational)
    : buffered && onSent && progressFetch
    ? via(progressFetch, buffered, onSent)
    : link.fetch;
  let answer: Answer;
  try {
    answer = await fetchWithin(fetchFn, url, {
      method,
      headers: { ...link.headers, ...link.dialect.version, ...headers },
      ...defined({ body, signal: link.signal }),
    }, link.deadlines);
  } catch (error) {
    throw new UploadError(0, "network", networkWords(error, url), { cause: error });
  }
  link.contact.answered = true;
  if (answer.ok) return answer;
  const retryAfter = answer.headers.get("retry-after");
  throw new UploadError(
    answer.status,
    "http",
    `${method} ${answer.status}: ${serverMessage(answer.text)}`,
    { headers: retryAfter ? { "Retry-After": retryAfter } : {} },
  );
}

/** The message of a JSON error (plain dialect or problem document), or the text as it came. */
export function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text);
    const message = body?.error?.message ?? body?.title;
    if (typeof message === "string") return message;
  } catch { /* not JSON */ }
  return text.trim().slice(0, 500) || "(no message)";
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
