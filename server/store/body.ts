import { IdleWatch } from "./idle_watch.ts";
import type { Budget } from "./types.ts";

/**
 * What the limits made of a request body: how much of it was let through, and why it ended
 * early, if it did. Filled in as the limited stream is read; final once it has ended.
 */
export interface BodyOutcome {
  /** Bytes let through. */
  bytes: number;
  /** The body held more than `maxBytes` (or the budget allowed); the excess was never let through. */
  overflow: boolean;
  /** Reading stopped because the signal aborted, or the body was too slow (`idle`). */
  stopped: boolean;
  /** Stopped because fewer than `minRate`·`idleMs` bytes arrived over the last `idleMs`. */
  idle?: boolean;
  /** The overflow came from the budget running out. */
  overBudget?: boolean;
  /** The body failed mid-way (client gone); what arrived before was let through. */
  bodyError?: unknown;
}

export interface BodyLimits {
  maxBytes: number;
  signal: AbortSignal;
  idleMs?: number | undefined;
  /** Bytes per second a body must keep up, on average over any `idleMs`. */
  minRate?: number | undefined;
  budget?: Budget | undefined;
  /** Hears the bytes let through so far, once the reader has taken them (for transfer rates). */
  onProgress?: ((bytes: number) => void) | undefined;
}

/** A request body behind its limits: a stream that simply ends where the limits end it. */
export interface LimitedBody {
  stream: ReadableStream<Uint8Array>;
  outcome: BodyOutcome;
  /** Stops watching and lets go of the body (idempotent); call once the stream is done with. */
  close(): void;
}

/**
 * Puts the limits on a body: a byte limit and budget (the excess is never let through), a
 * signal that stops reading (what was let through stays), a silence/min-rate watch, and a body
 * error that ends the stream cleanly (recorded in the outcome). Pull-based with no queue, so the
 * time the reader spends on a chunk (the disk) never counts against the body.
 */
export function limitBody(body: ReadableStream<Uint8Array>, limits: BodyLimits): LimitedBody {
  const { maxBytes, signal, idleMs = Infinity, minRate = 0, budget, onProgress } = limits;
  const outcome: BodyOutcome = { bytes: 0, overflow: false, stopped: false };
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  // Silence, or a slow drip meant to hold a slot forever, is cut (see IdleWatch).
  const watch = Number.isFinite(idleMs) ? new IdleWatch(idleMs, minRate) : undefined;
  watch?.start(() => {
    outcome.idle = true;
    stop();
  });
  let reported = 0;
  const report = () => {
    if (outcome.bytes === reported) return;
    reported = outcome.bytes;
    onProgress?.(reported);
  };
  let closed = false;
  const close = (cancel: boolean) => {
    if (closed) return;
    closed = true;
    watch?.stop();
    signal.removeEventListener("abort", stop);
    outcome.stopped = (signal.aborted || outcome.idle === true) && !outcome.overflow;
    if (cancel) stop();
    else reader.releaseLock();
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (watch) watch.sinking = false;
      report();
      while (true) {
        if (signal.aborted || outcome.idle) return end();
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          outcome.bodyError = error;
          return end();
        }
        if (next.done) return end();
        let chunk = next.value;
        watch?.received(chunk.length);
        if (chunk.length > maxBytes - outcome.bytes) {
          chunk = chunk.subarray(0, maxBytes - outcome.bytes);
          outcome.overflow = true;
        }
        if (budget) {
          const granted = budget.take(chunk.length);
          if (granted < chunk.length) {
            chunk = chunk.subarray(0, granted);
            outcome.overflow = outcome.overBudget = true;
          }
        }
        outcome.bytes += chunk.length;
        if (chunk.length > 0) controller.enqueue(chunk);
        if (outcome.overflow) {
          close(true);
          report();
          return controller.close();
        }
        if (chunk.length === 0) continue;
        if (watch) watch.sinking = true;
        return;
      }
      function end() {
        close(false);
        report();
        controller.close();
      }
    },
    cancel() {
      close(true);
    },
  }, { highWaterMark: 0 });
  return { stream, outcome, close: () => close(true) };
}
