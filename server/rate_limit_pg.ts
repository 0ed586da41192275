/**
 * `--rate-limit` counted in PostgreSQL, so every instance on one `--db` shares each key's window.
 * One upsert per creation: the row lock it takes orders concurrent creations of one key, and the
 * database's clock decides when a window closes, so instances' clocks needn't agree.
 */
import type { RateLimit } from "./config/config.ts";
import type { RateCounter, RateWindow } from "./http/rate_limit.ts";
import type { Sql } from "./store/pg_info.ts";

/** Closed windows are deleted at most this often (one DELETE, by whichever instance comes). */
const PRUNE_EVERY_MS = 60_000;

export class PgRateCounter implements RateCounter {
  readonly #sql: Sql;
  #pruned = 0;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async take(key: string, limit: RateLimit): Promise<RateWindow> {
    const period = limit.periodMs;
    const [row] = await this.#sql`
      WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now)
      INSERT INTO resumable_rate_limits AS r (key, window_start, count)
        SELECT ${key}, now, 1 FROM clock
      ON CONFLICT (key) DO UPDATE SET
        window_start = CASE WHEN r.window_start + ${period} <= excluded.window_start
          THEN excluded.window_start ELSE r.window_start END,
        count = CASE WHEN r.window_start + ${period} <= excluded.window_start
          THEN 1 ELSE r.count + 1 END
      RETURNING window_start, count, (SELECT now FROM clock) AS now`;
    const window = {
      start: Number(row!.window_start),
      count: Number(row!.count),
      now: Number(row!.now),
    };
    if (window.now - this.#pruned > PRUNE_EVERY_MS) {
      this.#pruned = window.now;
      // Best effort: a failed prune only leaves closed windows, which the next creation resets.
      this.#sql`DELETE FROM resumable_rate_limits WHERE window_start + ${period} <= ${window.now}`
        .catch(() => {});
    }
    return window;
  }
}
