import type { RunningDigest } from "../../lib/deno/digest_pool.ts";

/**
 * The running MD5/SHA-256 of each upload's stored bytes, so completing an upload never rereads
 * it. Bounded: past `max` states the oldest idle one is dropped (and rebuilt from the bytes if
 * ever needed). A state an append or assembly is using (`busy`) is never evicted.
 */
export class HashCache {
  readonly #states = new Map<string, RunningDigest>();
  readonly #busy = new Set<string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  get(id: string): RunningDigest | undefined {
    return this.#states.get(id);
  }

  has(id: string): boolean {
    return this.#states.has(id);
  }

  /** Keeps `state` as `id`'s, evicting the oldest idle state past the bound. */
  keep(id: string, state: RunningDigest): void {
    this.#states.set(id, state);
    if (this.#states.size <= this.#max) return;
    for (const old of this.#states.keys()) {
      if (!this.#busy.has(old) && old !== id) {
        this.forget(old);
        return;
      }
    }
  }

  /** Takes `id`'s state out, for the caller to finish. */
  take(id: string): RunningDigest | undefined {
    const state = this.#states.get(id);
    this.#states.delete(id);
    return state;
  }

  /** Drops `id`'s state. */
  forget(id: string): void {
    this.#states.get(id)?.drop();
    this.#states.delete(id);
  }

  /** Drops every state. */
  clear(): void {
    for (const id of [...this.#states.keys()]) this.forget(id);
  }

  /** Runs `work` with `id`'s state protected from eviction. */
  async busy<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.#busy.add(id);
    try {
      return await work();
    } finally {
      this.#busy.delete(id);
    }
  }
}
