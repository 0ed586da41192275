import { IdleWatch } from "./idle_watch.ts";
import type { Budget } from "./types.ts";

/**
 * The request-body loop both stores share: reads chunks, enforces a byte limit, stops when a
 * signal aborts (keeping what was handed over), and records a body that fails mid-way.
 */
export interface PumpResult {
  /** Bytes handed to the sink. */
  bytes: number;
  /** The body held more than `maxBytes`; the excess was never handed over. */
  overflow: boolean;
  stopped: boolean;
  /** Stopped because fewer than `minRate`·`idleMs` bytes arrived over the last `idleMs`. */
  idle?: boolean;
  /** The overflow came from the budget running out. */
  overBudget?: boolean;
  bodyError?: unknown;
}

export interface PumpLimits {
  maxBytes: number;
  signal: AbortSignal;
  idleMs?: number | undefined;
  /** Bytes per second a body must keep up, on average over any `idleMs`. */
  minRate?: number | undefined;
  budget?: Budget | undefined;
  /** Hears the bytes handed over so far, after each chunk (for transfer rates). */
  onProgress?: ((bytes: number) => void) | undefined;
}

/** The parts of an AppendResult a pump decides. */
export function outcomeOf(pumped: PumpResult): {
  overflow: boolean;
  stopped: boolean;
  idle?: boolean;
  overBudget?: boolean;
  bodyError?: unknown;
} {
  return {
    overflow: pumped.overflow,
    stopped: pumped.stopped,
    ...(pumped.idle ? { idle: true } : {}),
    ...(pumped.overBudget ? { overBudget: true } : {}),
    ...(pumped.bodyError === undefined ? {} : { bodyError: pumped.bodyError }),
  };
}

export async function pumpBody(
  body: ReadableStream<Uint8Array>,
  { maxBytes, signal, idleMs = Infinity, minRate = 0, budget, onProgress }: PumpLimits,
  sink: (chunk: Uint8Array) => Promise<void> | void,
): Promise<PumpResult> {
  const result: PumpResult = { bytes: 0, overflow: false, stopped: false };
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  // Silence, or a slow drip meant to hold a slot forever, is cut (see IdleWatch).
  const watch = Number.isFinite(idleMs) ? new IdleWatch(idleMs, minRate) : undefined;
  watch?.start(() => {
    result.idle = true;
    stop();
  });
  try {
    while (!signal.aborted && !result.idle) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        result.bodyError = error;
        break;
      }
      if (next.done) break;
      let chunk = next.value;
      watch?.received(chunk.length);
      if (chunk.length > maxBytes - result.bytes) {
        chunk = chunk.subarray(0, maxBytes - result.bytes);
        result.overflow = true;
      }
      if (budget) {
        const granted = budget.take(chunk.length);
        if (granted < chunk.length) {
          chunk = chunk.subarray(0, granted);
          result.overflow = result.overBudget = true;
        }
      }
      result.bytes += chunk.length;
      if (watch) watch.sinking = true;
      await sink(chunk);
      if (watch) watch.sinking = false;
      onProgress?.(result.bytes);
      if (result.overflow) {
        stop();
        break;
      }
    }
  } finally {
    watch?.stop();
    signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
  result.stopped = (signal.aborted || result.idle === true) && !result.overflow;
  return result;
}
