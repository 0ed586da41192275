/**
 * Transfer speed over a sliding window of bytes sent, and the time left at that speed: what the
 * CLI's progress line and the page show. History is forgotten on `reset` (a reconnect, a resume
 * from the server's offset, a pause), and no speed is known until fresh samples span `minSpanMs`,
 * so an upload nobody is sending shows no speed and no time left rather than a stale guess.
 */

/** How far back the speed looks. */
export const SPEED_WINDOW_MS = 5000;
/** How long fresh samples must span before a speed is shown. */
export const SPEED_MIN_SPAN_MS = 1000;

interface Sample {
  at: number;
  bytes: number;
}

export class RateWindow {
  readonly #windowMs: number;
  readonly #minSpanMs: number;
  #samples: Sample[] = [];

  constructor(windowMs = SPEED_WINDOW_MS, minSpanMs = SPEED_MIN_SPAN_MS) {
    this.#windowMs = windowMs;
    this.#minSpanMs = minSpanMs;
  }

  /** Forgets every sample: the speed is unknown until fresh ones arrive. */
  reset(): void {
    this.#samples = [];
  }

  /** Notes that `bytes` (a running total) were sent by `at` (milliseconds, monotonic). */
  add(at: number, bytes: number): void {
    const last = this.#samples.at(-1);
    if (last && (bytes < last.bytes || at < last.at)) this.reset(); // went back: a new start
    this.#samples.push({ at, bytes });
    // Keep one sample at or before the window's start: the baseline the speed is measured from.
    while (this.#samples.length > 1 && this.#samples[1]!.at <= at - this.#windowMs) {
      this.#samples.shift();
    }
  }

  /**
   * Bytes per second at `now`: what was sent since the window's baseline, over the time since
   * then (so a stall lowers it to 0). Undefined until the samples span `minSpanMs`.
   */
  rate(now: number): number | undefined {
    const base = this.#samples[0];
    const newest = this.#samples.at(-1);
    if (!base || !newest || newest.at - base.at < this.#minSpanMs) return undefined;
    if (now - newest.at >= this.#windowMs) return 0;
    return (newest.bytes - base.bytes) / (Math.max(now, newest.at) - base.at) * 1000;
  }

  /** Seconds until `total` bytes are sent, or undefined when the speed is unknown or zero. */
  eta(total: number, now: number): number | undefined {
    const rate = this.rate(now);
    const newest = this.#samples.at(-1);
    if (!rate || !newest) return undefined;
    return Math.max(0, total - newest.bytes) / rate;
  }
}
