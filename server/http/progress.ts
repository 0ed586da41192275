/** How far back the transfer rate looks. */
export const RATE_WINDOW_MS = 60_000;
/** Bytes arriving within this long mean someone is sending: only then is there a rate to show. */
export const SENDING_WITHIN_MS = 5000;
/** Samples are kept at most this often per upload (bounds memory: ≤ 61 per upload). */
const SAMPLE_EVERY_MS = 1000;

interface Sample {
  at: number;
  offset: number;
}

/**
 * Bytes per second per upload over the last minute, from offsets reported as bodies arrive. In
 * memory only: after a restart an upload has no rate until its bytes move again.
 */
export class Progress {
  readonly #samples = new Map<string, Sample[]>();
  readonly #now: () => number;
  #prunedAt = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Notes that `id` now holds `offset` bytes. */
  record(id: string, offset: number): void {
    const now = this.#now();
    let samples = this.#samples.get(id);
    if (!samples) {
      this.#prune(now);
      samples = [];
      this.#samples.set(id, samples);
    }
    const last = samples.at(-1);
    if (last && now - last.at < SAMPLE_EVERY_MS && samples.length > 1) {
      last.offset = offset; // the newest sample moves with the bytes
      last.at = now;
    } else {
      samples.push({ at: now, offset });
    }
    while (samples.length > 2 && samples[1]!.at <= now - RATE_WINDOW_MS) samples.shift();
  }

  /** Bytes per second over the last minute (0 when idle that long), or undefined if never seen. */
  rate(id: string): number | undefined {
    const samples = this.#samples.get(id);
    if (!samples || samples.length === 0) return undefined;
    const now = this.#now();
    const newest = samples.at(-1)!;
    if (now - newest.at >= RATE_WINDOW_MS) return 0;
    const since = now - RATE_WINDOW_MS;
    // The oldest sample is at most one step before the window; bytes before `since` were idle
    // or are left out, so the span is clipped to the window.
    const base = samples[0]!;
    const seconds = Math.max((now - Math.max(base.at, since)) / 1000, 1);
    return Math.max(0, newest.offset - base.offset) / seconds;
  }

  /** Whether bytes of `id` arrived within SENDING_WITHIN_MS: someone is sending it now. */
  sending(id: string): boolean {
    const newest = this.#samples.get(id)?.at(-1);
    return newest !== undefined && this.#now() - newest.at < SENDING_WITHIN_MS;
  }

  forget(id: string): void {
    this.#samples.delete(id);
  }

  /** Drops uploads silent for longer than the window, so the map holds only live transfers. */
  #prune(now: number): void {
    if (now - this.#prunedAt < SAMPLE_EVERY_MS) return; // at most once a second: O(uploads)
    this.#prunedAt = now;
    for (const [id, samples] of this.#samples) {
      if (now - (samples.at(-1)?.at ?? 0) > RATE_WINDOW_MS) this.#samples.delete(id);
    }
  }
}

/** Seconds until `left` bytes arrive at `rate` bytes per second; undefined when unknowable. */
export function etaSeconds(left: number | undefined, rate: number | undefined): number | undefined {
  if (left === undefined || rate === undefined) return undefined;
  if (left <= 0) return 0;
  return rate > 0 ? Math.ceil(left / rate) : undefined;
}
