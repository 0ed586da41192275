/**
 * Deadlines for HTTP requests, so that a connection which stays open but carries nothing (a
 * black-holing proxy, a frozen server, a NAT that forgot the flow) can't hold the client forever.
 * A response head must come within `responseMs` of the request being sent; a streamed request
 * body must be taken by fetch (that is, by the socket) at least every `stallMs`; a response body
 * must deliver bytes at least every `stallMs`. On expiry the request is aborted with an
 * `UploadError` of code "timeout", which callers treat like any other network failure.
 *
 * Runs in Deno and in a browser: only fetch, streams and timers.
 */
import { UploadError } from "../../lib/errors.ts";
import { formatBytes } from "../../lib/units.ts";
import { defined } from "../../lib/defined.ts";

export interface Deadlines {
  /** Longest wait for a response head once the request is sent, in ms. */
  responseMs: number;
  /** Longest time a request body isn't taken, or a response body delivers nothing, in ms. */
  stallMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { responseMs: 30_000, stallMs: 30_000 };

/**
 * A body handed to fetch in one piece can't report its progress, so it is allowed `stallMs` per
 * started MiB on top of `responseMs`: slower than 1 MiB per `stallMs` counts as stalled.
 */
export const UNOBSERVED_UNIT = 1024 * 1024;

/** "30 s", "1.5 s". */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** An abort signal that fires unless it is armed again (or stopped) in time. */
export class Watchdog {
  readonly #controller = new AbortController();
  readonly signal: AbortSignal;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(outer?: AbortSignal) {
    this.signal = outer
      ? AbortSignal.any([outer, this.#controller.signal])
      : this.#controller.signal;
  }

  /** (Re)starts the countdown: unless armed again or stopped within `ms`, aborts with `message`. */
  arm(ms: number, message: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#controller.abort(new UploadError(0, "timeout", message)),
      ms,
    );
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The timeout, once it has fired (not an abort from outside). */
  get expired(): UploadError | undefined {
    return this.#controller.signal.aborted ? this.#controller.signal.reason : undefined;
  }
}

/** A response with its (small) body read. */
export interface Answer {
  status: number;
  ok: boolean;
  headers: Headers;
  text: string;
}

export type TimedInit = Omit<RequestInit, "body"> & {
  body?: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;
};

/**
 * Sends one request under `deadlines` and reads its answer's body; see the module doc. Throws the "timeout" UploadError on expiry, otherwise whatever fetch throws.
 */
export async function fetchWithin(
  fetchFn: typeof fetch,
  url: string,
  init: TimedInit,
  deadlines: Deadlines,
): Promise<Answer> {
  const method = init.method ?? "GET";
  const { responseMs, stallMs } = deadlines;
  const dog = new Watchdog(init.signal ?? undefined);
  const awaitHead = () =>
    dog.arm(responseMs, `no response to ${method} within ${seconds(responseMs)}`);
  let body = init.body;
  if (body instanceof ReadableStream) {
    awaitHead(); // while connecting, before the body is asked for
    body = observed(
      body,
      () => dog.arm(stallMs, `${method} made no progress sending its body for ${seconds(stallMs)}`),
      awaitHead,
    );
  } else if (body !== undefined) {
    const allowed = responseMs + stallMs * Math.ceil(body.byteLength / UNOBSERVED_UNIT);
    dog.arm(
      allowed,
      `no response to ${method} of ${formatBytes(body.byteLength)} within ${seconds(allowed)}`,
    );
  } else {
    awaitHead();
  }
  try {
    const res = await fetchFn(url, {
      ...init,
      ...defined({ body }),
      signal: dog.signal,
    });
    const text = await readText(
      res,
      () => dog.arm(stallMs, `the answer to ${method} stalled for ${seconds(stallMs)}`),
    );
    return { status: res.status, ok: res.ok, headers: res.headers, text };
  } catch (error) {
    throw dog.expired ?? error;
  } finally {
    dog.stop();
  }
}

/** `source`, pulled only as fetch asks for it, calling `onPiece` per piece and `onEnd` at its end. */
function observed(
  source: ReadableStream<Uint8Array>,
  onPiece: () => void,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        onEnd();
        controller.close();
        return;
      }
      onPiece();
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** A response body as text, re-arming `onBytes` for each piece that arrives. */
async function readText(res: Response, onBytes: () => void): Promise<string> {
  if (!res.body) return "";
  onBytes();
  const decoder = new TextDecoder();
  let text = "";
  for await (const piece of res.body) {
    onBytes();
    text += decoder.decode(piece, { stream: true });
  }
  return text + decoder.decode();
}
