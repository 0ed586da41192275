/**
 * Idle buffers of one size kept for reuse, up to a bound. Memory that is taken and given back
 * keeps its pages warm and is never left to the garbage collector, which frees dead buffers only
 * once tens of MiB of them have piled up.
 */
export class SpareBuffers {
  readonly #max: number;
  readonly #make: () => Uint8Array;
  readonly #idle: Uint8Array[] = [];
  /** Each buffer made, by its memory: what `give` takes back (a made buffer may be a view). */
  readonly #made = new WeakMap<ArrayBufferLike, Uint8Array>();
  /** Buffers made so far (for tests: it stops growing once the spares serve every taker). */
  made = 0;

  /**
   * Buffers of `size` bytes, at most `max` kept idle; `make` allocates one (a plain array by
   * default; it may be a view of bigger memory, as aligned buffers are).
   */
  constructor(size: number, max: number, make: () => Uint8Array = () => new Uint8Array(size)) {
    this.#max = max;
    this.#make = make;
  }

  /** Idle buffers kept: how many `take` can hand out without making one. */
  get idle(): number {
    return this.#idle.length;
  }

  /** An idle buffer, or a new one. */
  take(): Uint8Array {
    const idle = this.#idle.pop();
    if (idle) return idle;
    this.made++;
    const made = this.#make();
    this.#made.set(made.buffer, made);
    return made;
  }

  /**
   * Puts back a buffer from `take`, or a view of one from its start; the caller must not touch it
   * again. Anything else, and anything over the bound, is left to the collector.
   */
  give(buffer: Uint8Array): void {
    const made = this.#made.get(buffer.buffer);
    if (!made || buffer.byteOffset !== made.byteOffset || this.#idle.length >= this.#max) return;
    this.#idle.push(made);
  }
}
