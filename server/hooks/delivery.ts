/**
 * Delivers queued hook events: each (event, receiver) pair is POSTed until the receiver answers 2xx,
 * retrying with exponential backoff and jitter. Pairs are independent — one event a receiver keeps
 * refusing doesn't hold up the others — and at most `concurrency` requests are in flight. The
 * retry schedule is kept in memory: after a restart every pending event is tried again at once.
 */
import { hookHeaders } from "./events.ts";
import type { HookQueue } from "./queue.ts";

export interface DeliveryOptions {
  /** How long one attempt may take (then it counts as failed). */
  timeoutMs: number;
  /** Wait after the first failure; doubles with each further one (default 1 s). */
  baseMs?: number;
  /** Longest wait between attempts (default 5 min). */
  capMs?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  fetch?: typeof fetch;
  random?: () => number;
  now?: () => number;
  /** Hears every attempt's outcome. */
  onAttempt?: (attempt: Attempt) => void;
  /** Hears failures of the queue itself (a delivered mark that couldn't be written). */
  onError?: (message: string, error: unknown) => void;
}

export interface Attempt {
  name: string;
  url: string;
  ok: boolean;
  /** 1 for the first attempt of this pair in this process. */
  attempt: number;
  /** `HTTP 500`, `no answer within 10000 ms`, a network error… */
  detail: string;
  /** When failed: the wait before the next attempt. */
  retryInMs?: number;
}

export const DEFAULT_BASE_MS = 1000;
export const DEFAULT_CAP_MS = 5 * 60_000;

/**
 * The wait after the `failures`-th failure in a row: `base · 2^(failures-1)`, capped, then jittered
 * down by up to half ("equal jitter": never less than half the nominal wait, so retries of many
 * events spread out without any of them hammering a receiver that is down).
 */
export function backoffDelay(
  failures: number,
  baseMs = DEFAULT_BASE_MS,
  capMs = DEFAULT_CAP_MS,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

export class HookDelivery {
  readonly #queue: HookQueue;
  readonly #options: DeliveryOptions;
  readonly #now: () => number;
  /** "name url" → failures so far and when the next attempt is due. */
  readonly #retry = new Map<string, { failures: number; dueAt: number }>();
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(queue: HookQueue, options: DeliveryOptions) {
    this.#queue = queue;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Starts delivering what is queued (events an earlier run left included). */
  start(): void {
    this.#pump();
  }

  /** Something was queued: deliver it now. */
  notify(): void {
    this.#pump();
  }

  /** Stops: requests in flight are cancelled, and their events stay queued for the next run. */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  /** Starts every due attempt there is room for, and sets a timer for the next one. */
  #pump(): void {
    if (this.#stop.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#now();
    const limit = this.#options.concurrency ?? 4;
    let next = Infinity;
    const live = new Set<string>();
    for (const entry of this.#queue.entries()) {
      for (const url of entry.pending) {
        // Full: each finishing attempt pumps again, so neither a timer nor the rest is needed.
        if (this.#inFlight.size >= limit) return;
        const key = `${entry.name} ${url}`;
        live.add(key);
        if (this.#inFlight.has(key)) continue;
        const dueAt = this.#retry.get(key)?.dueAt ?? 0;
        if (dueAt > now) next = Math.min(next, dueAt);
        else this.#attempt(key, entry.name, url);
      }
    }
    // Pairs of entries dropped from the queue (bound) forget their schedule.
    for (const key of this.#retry.keys()) if (!live.has(key)) this.#retry.delete(key);
    if (next < Infinity) {
      this.#timer = setTimeout(() => this.#pump(), Math.max(0, next - now));
    }
  }

  #attempt(key: string, name: string, url: string): void {
    const run = this.#deliver(key, name, url).finally(() => {
      this.#inFlight.delete(key);
      this.#pump();
    });
    this.#inFlight.set(key, run);
  }

  async #deliver(key: string, name: string, url: string): Promise<void> {
    const { timeoutMs } = this.#options;
    const failures = this.#retry.get(key)?.failures ?? 0;
    let ok = false;
    let detail: string;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const event = await this.#queue.read(name);
      if (!event) return; // dropped meanwhile
      const res = await (this.#options.fetch ?? fetch)(url, {
        method: "POST",
        headers: hookHeaders(event),
        body: JSON.stringify(event),
        redirect: "manual",
        signal: AbortSignal.any([timeout, this.#stop.signal]),
      });
      await res.body?.cancel().catch(() => {});
      ok = res.status >= 200 && res.status < 300;
      detail = `HTTP ${res.status}`;
    } catch (error) {
      detail = timeout.aborted
        ? `no answer within ${timeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error);
    }
    if (ok) {
      this.#retry.delete(key);
      try {
        await this.#queue.delivered(name, url);
      } catch (error) {
        this.#options.onError?.("Could not record a delivered hook event", error);
      }
      this.#options.onAttempt?.({ name, url, ok, attempt: failures + 1, detail });
      return;
    }
    if (this.#stop.signal.aborted) return; // cut by shutdown: not a failure of the receiver
    const retryInMs = backoffDelay(
      failures + 1,
      this.#options.baseMs,
      this.#options.capMs,
      this.#options.random,
    );
    this.#retry.set(key, { failures: failures + 1, dueAt: this.#now() + retryInMs });
    this.#options.onAttempt?.({ name, url, ok, attempt: failures + 1, detail, retryInMs });
  }
}
