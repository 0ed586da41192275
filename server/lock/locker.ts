import { UploadError } from "../../lib/errors.ts";

/** A held lock. `signal` aborts when another request asks for the upload (or on shutdown). */
export interface Lock extends AsyncDisposable {
  readonly signal: AbortSignal;
}

export interface Locker {
  /**
   * Takes the upload's lock. If another request holds it, that request is asked to let go (it
   * stops reading its body and keeps what arrived); if it doesn't within `timeoutMs`, 423.
   */
  acquire(id: string, timeoutMs?: number): Promise<Lock>;
  /** Takes the lock only if free, without disturbing a holder (async: a shared lock asks a db). */
  tryAcquire(id: string): Promise<Lock | undefined>;
}

interface Holder {
  release: AbortController;
  released: Promise<void>;
}

/** One writer per upload within this process; the newest request wins, the older one stops. */
export class MemoryLocker implements Locker {
  readonly #holders = new Map<string, Holder>();
  readonly #defaultTimeoutMs: number;

  constructor(defaultTimeoutMs = 10_000) {
    this.#defaultTimeoutMs = defaultTimeoutMs;
  }

  async acquire(id: string, timeoutMs = this.#defaultTimeoutMs): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const holder = this.#holders.get(id);
      if (!holder) return this.#take(id);
      holder.release.abort(new UploadError(423, "released", "Another request took over"));
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        holder.released.then(() => false),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), left)),
      ]);
      clearTimeout(timer);
      if (timedOut || Date.now() >= deadline) {
        throw new UploadError(423, "locked", `Upload ${id} is busy with another request`, {
          headers: { "Retry-After": "1" },
        });
      }
    }
  }

  tryAcquire(id: string): Promise<Lock | undefined> {
    return Promise.resolve(this.#holders.has(id) ? undefined : this.#take(id));
  }

  #take(id: string): Lock {
    const release = new AbortController();
    let done!: () => void;
    const holder: Holder = { release, released: new Promise((r) => done = r) };
    this.#holders.set(id, holder);
    return {
      signal: release.signal,
      [Symbol.asyncDispose]: () => {
        if (this.#holders.get(id) === holder) this.#holders.delete(id);
        done();
        return Promise.resolve();
      },
    };
  }
}
