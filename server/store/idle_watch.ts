/**
 * Decides when a request body is too slow to keep reading. Two rules, neither counting time spent
 * waiting on our own sink (the disk) against the body:
 *
 * - silence: no byte for `idleMs` — cut then, by a timer set for that moment;
 * - rate: fewer than `minRate`·`idleMs` bytes over the last `idleMs`, so a slow drip meant to hold
 *   a slot forever is cut too. The window slides, checked every tick (a twentieth of `idleMs`, at
 *   most a second), and errs on the body's side by up to a tick.
 */

/** Rate checks per `idleMs`. */
const TICKS_PER_WINDOW = 20;
/** A rate check never waits longer than this, however long `idleMs` is. */
const MAX_TICK_MS = 1000;

export class IdleWatch {
  readonly #idleMs: number;
  readonly #minBytes: number;
  readonly #now: () => number;
  /** When the body last delivered a byte or, after a sink, was waited on again. */
  #lastHeard: number;
  /** Bytes received since the last tick. */
  #pending = 0;
  /** Bytes per tick, each with the time the tick ended; only ticks that overlap the window. */
  readonly #ticks: { at: number; bytes: number }[] = [];
  /** The rate window starts no earlier than this: the start, or a tick that saw the sink busy. */
  #since: number;
  #sinking = false;
  #silence: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(idleMs: number, minRate: number, now: () => number = () => performance.now()) {
    this.#idleMs = idleMs;
    this.#minBytes = Math.floor((minRate * idleMs) / 1000);
    this.#now = now;
    this.#lastHeard = this.#since = now();
  }

  /** How often the rate is checked once `start`ed. */
  get tickMs(): number {
    return Math.max(1, Math.min(this.#idleMs / TICKS_PER_WINDOW, MAX_TICK_MS));
  }

  /** Watches until `stop`; calls `onIdle` once, when the body is found too slow. */
  start(onIdle: () => void): void {
    const cut = () => {
      this.stop();
      onIdle();
    };
    const listen = () => {
      const left = this.silenceLeft();
      if (left <= 0) cut();
      else this.#silence = setTimeout(listen, left);
    };
    this.#silence = setTimeout(listen, this.#idleMs);
    // With no rate to keep, silence is the only rule.
    if (this.#minBytes > 1) {
      this.#ticker = setInterval(() => {
        if (this.tick()) cut();
      }, this.tickMs);
    }
  }

  stop(): void {
    clearTimeout(this.#silence);
    clearInterval(this.#ticker);
  }

  /** The body delivered `bytes` more. */
  received(bytes: number): void {
    this.#pending += bytes;
    this.#lastHeard = this.#now();
  }

  /** Whether a chunk is being handed to the sink (the body is not being read meanwhile). */
  set sinking(value: boolean) {
    this.#sinking = value;
    if (!value) this.#lastHeard = this.#now();
  }

  /** How much longer the body may stay silent (≤ 0: it was silent too long). */
  silenceLeft(): number {
    if (this.#sinking) return this.#idleMs;
    return this.#idleMs - (this.#now() - this.#lastHeard);
  }

  /** Ends a tick: true when the last `idleMs` (none of it spent on the sink) was too slow. */
  tick(): boolean {
    const now = this.#now();
    this.#ticks.push({ at: now, bytes: this.#pending });
    this.#pending = 0;
    // A tick that ended within the window may have begun before it: counting all of it errs on
    // the body's side.
    while (this.#ticks.length > 0 && this.#ticks[0]!.at <= now - this.#idleMs) this.#ticks.shift();
    if (this.#sinking) this.#since = now;
    if (now - this.#since < this.#idleMs) return false;
    let bytes = 0;
    for (const tick of this.#ticks) bytes += tick.bytes;
    return bytes < this.#minBytes;
  }
}
