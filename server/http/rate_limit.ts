/**
 * `--rate-limit N/PERIOD` on upload creation. Each key (an owner, or a client address) gets a
 * window of PERIOD that opens with its first creation; within it N creations pass and the rest
 * are refused until it closes. One small record per key, so the count can live in memory (one
 * instance) or in one PostgreSQL row (all instances; `rate_limit_pg.ts`).
 */
import { UploadError } from "../../lib/errors.ts";
import { formatDuration } from "../../lib/units.ts";
import type { RateLimit } from "../config/config.ts";
import type { Context } from "./context.ts";
import { clientAddress } from "./forwarded.ts";

/** A key's window after one more creation was counted in it. */
export interface RateWindow {
  /** When the window opened (ms since the epoch, by the counter's clock). */
  start: number;
  /** Creations counted in it, this one included (refused ones too). */
  count: number;
  /** The counter's clock at the time of counting. */
  now: number;
}

/** Counts creations per key: `take` counts one more and says where the key's window stands. */
export interface RateCounter {
  take(key: string, limit: RateLimit): Promise<RateWindow>;
}

/** Keys held in memory at most; past it, the oldest windows go first (expired ones always do). */
export const MEMORY_KEYS_MAX = 100_000;

/** Windows in this process's memory, oldest first (a window that reopens moves to the end). */
export class MemoryRateCounter implements RateCounter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(now: () => number = Date.now, max = MEMORY_KEYS_MAX) {
    this.#now = now;
    this.#max = max;
  }

  /** Keys held now (for tests of the bound). */
  get size(): number {
    return this.#windows.size;
  }

  take(key: string, limit: RateLimit): Promise<RateWindow> {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window || window.start + limit.periodMs <= now) {
      this.#windows.delete(key);
      window = { start: now, count: 0 };
      this.#windows.set(key, window);
    }
    window.count++;
    // Map order is opening order: closed windows are at the front, and so is the oldest.
    for (const [oldest, w] of this.#windows) {
      if (w.start + limit.periodMs > now && this.#windows.size <= this.#max) break;
      this.#windows.delete(oldest);
    }
    return Promise.resolve({ start: window.start, count: window.count, now });
  }
}

/**
 * Counts this creation against the limit of its owner (auth on) or client address, and refuses it
 * past the limit: 429 with `Retry-After` (seconds) and the time the window closes.
 */
export async function assertCreationAllowed(ctx: Context): Promise<void> {
  const { config, rateCounter } = ctx.deps;
  const limit = config.rateLimit;
  if (!limit || !rateCounter) return;
  const key = ctx.owner !== undefined ? `owner:${ctx.owner}` : `addr:${clientAddress(ctx)}`;
  const window = await rateCounter.take(key, limit);
  if (window.count <= limit.count) return;
  const opensAt = window.start + limit.periodMs;
  const seconds = Math.max(1, Math.ceil((opensAt - window.now) / 1000));
  const who = ctx.owner !== undefined ? "this owner" : "this client address";
  throw new UploadError(
    429,
    "rate-limited",
    `Too many uploads created: at most ${limit.count} per ${formatDuration(limit.periodMs)} for ` +
      `${who}; try again in ${seconds} s (at ${new Date(opensAt).toISOString()})`,
    { headers: { "Retry-After": String(seconds) } },
  );
}
