/**
 * One writer per upload across every instance sharing a PostgreSQL database.
 *
 * Within a process, the in-memory locker decides (newest request wins). Across processes, the
 * winner then takes a session-level advisory lock on the upload's id, in the one session this
 * process keeps for its locks. A request finding the advisory lock taken asks its holder to
 * let go with `NOTIFY resumable_release`; the holding instance aborts that lock's `signal` (its
 * request stops reading and keeps what arrived), unlocks, and answers `NOTIFY
 * resumable_released`, which wakes the waiter at once (it also polls, should a notice be lost).
 * Should that session end, PostgreSQL frees its locks; every holder here is then told to stop,
 * and the store's versioned updates refuse anything a stale holder still tries to record.
 */
import { UploadError } from "../../lib/errors.ts";
import { connect, type Sql } from "../store/pg_info.ts";
import { type Lock, type Locker, MemoryLocker } from "./locker.ts";

const RELEASE = "resumable_release";
const RELEASED = "resumable_released";
const HEARTBEAT_MS = 2000;
const HEARTBEAT_TIMEOUT_MS = 5000;

/** Why holders stop when the lock session ends (or may have): the server's trouble, retried. */
function lockLost(message: string): UploadError {
  return new UploadError(503, "lock-lost", message, { headers: { "Retry-After": "1" } });
}

export interface PgLockerOptions {
  /** How long `acquire` waits for a holder to let go before 423 (default 10 s). */
  timeoutMs?: number;
  /** Longest pause between attempts while waiting (default 250 ms). */
  pollMs?: number;
}

export class PgLocker implements Locker {
  /** One lasting connection: the session every advisory lock of this process lives in. */
  readonly #sql: Sql;
  readonly #local: MemoryLocker;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #instance = crypto.randomUUID();
  /** Locks held here, by upload id: aborting one asks its request to let go. */
  readonly #held = new Map<string, AbortController>();
  /** Requests waiting for an upload's lock, woken by a `released` notice. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #unlisten: (() => Promise<void>)[] = [];
  /** While locks are held, the session is checked every HEARTBEAT_MS (see #beat). */
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #beating = false;

  private constructor(url: string, options: PgLockerOptions) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 250;
    this.#local = new MemoryLocker(this.#timeoutMs);
    // Should the session end, PostgreSQL has freed its locks: every holder must stop.
    this.#sql = connect(url, {
      max: 1,
      lasting: true,
      onclose: () => this.#abortAll(lockLost("The upload's lock was lost")),
    });
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    Deno.unrefTimer(this.#heartbeat as unknown as number);
  }

  /**
   * A session that died quietly (a failover, a half-open connection) is otherwise noticed only
   * at its next use, and another instance may meanwhile hold the locks we think are ours: while
   * any is held, a query must come back within HEARTBEAT_TIMEOUT_MS, or every holder stops.
   */
  async #beat(): Promise<void> {
    if (this.#held.size === 0 || this.#beating) return;
    this.#beating = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.#sql`SELECT 1`,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer")), HEARTBEAT_TIMEOUT_MS);
        }),
      ]);
    } catch {
      this.#abortAll(lockLost("The upload's lock may be lost"));
    } finally {
      clearTimeout(timer);
      this.#beating = false;
    }
  }

  /** A locker on the database at `url`, listening for release requests once this resolves. */
  static async open(url: string, options: PgLockerOptions = {}): Promise<PgLocker> {
    const locker = new PgLocker(url, options);
    try {
      const sql = locker.#sql;
      const release = await sql.listen(RELEASE, (payload) => locker.#onRelease(payload));
      const released = await sql.listen(RELEASED, (id) => locker.#wake(id));
      locker.#unlisten.push(() => release.unlisten(), () => released.unlisten());
    } catch (error) {
      await locker.#sql.end({ timeout: 1 }).catch(() => {});
      throw error;
    }
    return locker;
  }

  async acquire(id: string, timeoutMs = this.#timeoutMs): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    const local = await this.#local.acquire(id, timeoutMs);
    try {
      let askedAt = -Infinity;
      for (;;) {
        // Watch for a `released` notice before trying, so one sent in between isn't missed.
        const release = this.#watch(id);
        try {
          if (await this.#try(id)) return this.#lock(id, local);
          if (local.signal.aborted) {
            throw new UploadError(
              423,
              "taken-over",
              `Upload ${id} was asked for by a newer request`,
              { headers: { "Retry-After": "1" } },
            );
          }
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new UploadError(423, "locked", `Upload ${id} is busy with another request`, {
              headers: { "Retry-After": "1" },
            });
          }
          // Ask the holder (on another instance) to let go; again now and then, should it miss it.
          if (Date.now() - askedAt > 2000) {
            askedAt = Date.now();
            await this.#sql.notify(RELEASE, JSON.stringify({ id, from: this.#instance }))
              .catch(() => {}); // a lost request is asked again; a dead database fails in #try
          }
          await release.wait(Math.min(left, this.#pollMs), local.signal);
        } finally {
          release.stop();
        }
      }
    } catch (error) {
      await local[Symbol.asyncDispose]();
      throw error;
    }
  }

  async tryAcquire(id: string): Promise<Lock | undefined> {
    const local = await this.#local.tryAcquire(id);
    if (!local) return undefined;
    try {
      // No one waits on a sweep's lock for long (waiters poll): no notice on its release.
      if (await this.#try(id)) return this.#lock(id, local, false);
    } catch (error) {
      await local[Symbol.asyncDispose]();
      throw error;
    }
    await local[Symbol.asyncDispose]();
    return undefined;
  }

  /** Tells every holder to stop, stops listening and closes the lock session. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#abortAll(new UploadError(503, "shutting-down", "The server is shutting down"));
    for (const unlisten of this.#unlisten) await unlisten().catch(() => {});
    await this.#sql.end({ timeout: 2 });
  }

  async #try(id: string): Promise<boolean> {
    const attempt = this.#sql`SELECT pg_try_advisory_lock(hashtextextended(${id}, 0)) AS ok`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // A session that went quiet must not hang every request queued behind it.
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer")), HEARTBEAT_TIMEOUT_MS);
      });
      const [row] = await Promise.race([attempt, late]);
      return row?.ok === true;
    } catch (error) {
      // Given up on: should it still succeed later, let that lock go at once (no holder has it).
      attempt.then(([row]) => {
        if (row?.ok === true) {
          this.#sql`SELECT pg_advisory_unlock(hashtextextended(${id}, 0))`.catch(() => {});
        }
      }, () => {});
      // The database is down or unreachable: retry later, like a busy server.
      throw new UploadError(503, "locks-unavailable", "The lock database is unavailable", {
        headers: { "Retry-After": "5" },
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #lock(id: string, local: Lock, notify = true): Lock {
    const remote = new AbortController();
    this.#held.set(id, remote);
    const signal = AbortSignal.any([local.signal, remote.signal]);
    let released = false;
    return {
      signal,
      [Symbol.asyncDispose]: async () => {
        if (released) return;
        released = true;
        if (this.#held.get(id) === remote) this.#held.delete(id);
        try {
          await this.#sql`SELECT pg_advisory_unlock(hashtextextended(${id}, 0))`;
          if (notify) await this.#sql.notify(RELEASED, id);
        } catch {
          // The session is gone, and the lock with it.
        } finally {
          await local[Symbol.asyncDispose]();
        }
      },
    };
  }

  /** Another instance wants an upload we hold: ask our request to let go. */
  #onRelease(payload: string): void {
    let request: { id?: unknown; from?: unknown };
    try {
      request = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof request.id !== "string" || request.from === this.#instance) return;
    this.#held.get(request.id)?.abort(
      new UploadError(423, "released", "Another request took over"),
    );
  }

  #wake(id: string): void {
    for (const wake of this.#waiters.get(id) ?? []) wake();
  }

  /**
   * Starts listening for a `released` notice for `id`: `wait` resolves on it (or one that came
   * since `#watch`), after `ms`, or when `signal` aborts.
   */
  #watch(id: string): { wait(ms: number, signal: AbortSignal): Promise<void>; stop(): void } {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => wake = resolve);
    const set = this.#waiters.get(id) ?? new Set();
    this.#waiters.set(id, set);
    set.add(wake);
    const stop = () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
    };
    return {
      async wait(ms, signal) {
        const timer = setTimeout(wake, ms);
        signal.addEventListener("abort", wake, { once: true });
        try {
          await woken;
        } finally {
          clearTimeout(timer);
          signal.removeEventListener("abort", wake);
        }
      },
      stop,
    };
  }

  #abortAll(reason: UploadError): void {
    for (const remote of this.#held.values()) remote.abort(reason);
    this.#held.clear();
  }
}
