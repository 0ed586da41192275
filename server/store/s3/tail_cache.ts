import type { Hash } from "node:crypto";

/** Local copies of the tails this instance wrote, kept so its next PATCH needn't fetch them. */
const TAIL_CACHE_BYTES = 256 * 1024 * 1024;

/** A local copy of an upload's tail object. */
export interface CachedTail {
  key: string;
  path: string;
  bytes: number;
  /** SHA-256 state of the file's bytes, to be continued. */
  sha: Hash;
}

/** This instance's tail copies, by upload id; bounded in bytes (the oldest go first). */
export class TailCache {
  readonly #tails = new Map<string, CachedTail>();
  readonly #max: number;
  #bytes = 0;

  constructor(max = TAIL_CACHE_BYTES) {
    this.#max = max;
  }

  /** Takes an upload's copy out of the cache: the caller owns its file now. */
  take(id: string): CachedTail | undefined {
    const tail = this.#tails.get(id);
    if (!tail) return undefined;
    this.#tails.delete(id);
    this.#bytes -= tail.bytes;
    return tail;
  }

  /** Keeps `tail` as `id`'s copy, dropping the oldest others past the bound. */
  keep(id: string, tail: CachedTail): void {
    this.drop(id);
    this.#tails.set(id, tail);
    this.#bytes += tail.bytes;
    for (const old of [...this.#tails.keys()]) {
      if (this.#bytes <= this.#max) break;
      if (old !== id) this.drop(old);
    }
  }

  /** Forgets `id`'s copy and removes its file. */
  drop(id: string): void {
    const tail = this.take(id);
    if (tail) void Deno.remove(tail.path).catch(() => {});
  }

  clear(): void {
    for (const id of [...this.#tails.keys()]) this.take(id);
  }
}
