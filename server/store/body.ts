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
  /** Stopped because no byte arrived for `idleMs`. */
  idle?: boolean;
  /** The overflow came from the budget running out. */
  overBudget?: boolean;
  bodyError?: unknown;
}

export interface PumpLimits {
  maxBytes: number;
  signal: AbortSignal;
  idleMs?: number | undefined;
  budget?: Budget | undefined;
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
  { maxBytes, signal, idleMs = Infinity, budget }: PumpLimits,
  sink: (chunk: Uint8Array) => Promise<void> | void,
): Promise<PumpResult> {
  const result: PumpResult = { bytes: 0, overflow: false, stopped: false };
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    clearTimeout(idleTimer);
    if (Number.isFinite(idleMs)) {
      idleTimer = setTimeout(() => {
        result.idle = true;
        stop();
      }, idleMs);
    }
  };
  try {
    while (!signal.aborted && !result.idle) {
      watch();
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        result.bodyError = error;
        break;
      }
      if (next.done) break;
      let chunk = next.value;
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
      await sink(chunk);
      if (result.overflow) {
        stop();
        break;
      }
    }
  } finally {
    clearTimeout(idleTimer);
    signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
  result.stopped = (signal.aborted || result.idle === true) && !result.overflow;
  return result;
}
