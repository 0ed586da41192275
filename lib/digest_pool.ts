/**
 * MD5 + SHA-256 computed on another thread, so hashing overlaps the network and disk work of
 * the main thread (on this 2-core machine, hashing inline halved upload throughput). One shared
 * worker holds every running state; bytes in flight are bounded per state, so memory stays flat.
 */
import { type Digests, DigestState } from "./digest.ts";

/** A running MD5 + SHA-256; `update` resolves once the bytes in flight are back under the bound. */
export interface RunningDigest {
  /** Bytes fed so far. */
  readonly length: number;
  /** Hashed on the calling thread (`inlineDigest`), not the worker. */
  readonly inline?: boolean;
  /** Feeds bytes (copied into pooled buffers: the caller may reuse its own at once). */
  update(bytes: Uint8Array): Promise<void>;
  /** Finishes; the state can't be used afterwards. */
  digest(): Promise<Digests>;
  /** Throws the state away. */
  drop(): void;
}

/** Bytes one state may have in flight to the worker before `update` waits (pipeline depth). */
const IN_FLIGHT = 8 * 1024 * 1024;
/**
 * Bytes all states together may have in flight: many concurrent uploads share this, so memory
 * stays bounded (10 uploads × 8 MiB of queued copies would be 80 MiB) while one alone still gets
 * the whole depth.
 */
const TOTAL_IN_FLIGHT = 24 * 1024 * 1024;
let totalInFlight = 0;
/** Bytes travel in buffers of this size, which the worker hands back for reuse. */
const PIECE = 1024 * 1024;
/** Most idle buffers kept for reuse. */
const POOL = 16;
const free: Uint8Array[] = [];

interface Waiter {
  inFlight: number;
  resume?: () => void;
  done?: (digests: Digests) => void;
  failed?: (error: Error) => void;
}

let worker: Worker | undefined;
const waiters = new Map<number, Waiter>();
let nextKey = 1;
/** Messages awaiting an answer. */
let pending = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * The shared worker, started on demand. A Web Worker keeps a Deno process alive, so once no state
 * is alive and nothing is in flight it is ended (after a short, unref'd grace period).
 */
function shared(): Worker {
  clearTimeout(idleTimer);
  if (worker) return worker;
  const w = new Worker(new URL("./digest_worker.ts", import.meta.url).href, { type: "module" });
  w.onmessage = (
    { data: m }: MessageEvent<
      { op: string; key: number; n?: number; bytes?: Uint8Array; md5?: string; sha256?: string }
    >,
  ) => {
    pending--;
    if (m.bytes && free.length < POOL) free.push(m.bytes);
    const waiter = waiters.get(m.key);
    if (m.op === "ack") {
      totalInFlight -= m.n!; // (a dropped state's bytes too)
      if (totalInFlight <= TOTAL_IN_FLIGHT / 2) { for (const w of waiters.values()) w.resume?.(); }
    }
    if (waiter && m.op === "ack") {
      waiter.inFlight -= m.n!;
      if (waiter.inFlight <= IN_FLIGHT / 2) waiter.resume?.();
    } else if (waiter && m.op === "digest") {
      waiters.delete(m.key);
      waiter.done?.({ md5: m.md5!, sha256: m.sha256! });
    }
    settle();
  };
  worker = w;
  return w;
}

function settle(): void {
  if (pending > 0 || waiters.size > 0 || !worker) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (pending > 0 || waiters.size > 0) return;
    worker?.terminate();
    worker = undefined;
  }, 1000);
  Deno.unrefTimer(idleTimer as unknown as number);
}

function send(message: unknown, transfer: Transferable[] = []): void {
  pending++;
  shared().postMessage(message, transfer);
}

/**
 * A running digest computed right here, for bodies so small (a few KiB to 1 MiB, all at hand)
 * that a round trip to the worker costs more than the hashing.
 */
export function inlineDigest(): RunningDigest {
  const state = new DigestState();
  return {
    inline: true,
    get length() {
      return state.length;
    },
    update(bytes) {
      state.update(bytes);
      return Promise.resolve();
    },
    digest: () => Promise.resolve(state.digest()),
    drop() {},
  };
}

export function offThreadDigest(): RunningDigest {
  const key = nextKey++;
  const waiter: Waiter = { inFlight: 0 };
  waiters.set(key, waiter);
  let length = 0;
  let dropped = false;
  return {
    get length() {
      return length;
    },
    async update(bytes) {
      if (dropped) return;
      for (let at = 0; at < bytes.length; at += PIECE) {
        const piece = bytes.subarray(at, at + PIECE);
        const buffer = free.pop() ?? new Uint8Array(PIECE);
        buffer.set(piece);
        length += piece.length;
        waiter.inFlight += piece.length;
        totalInFlight += piece.length;
        send({ op: "update", key, bytes: buffer, n: piece.length }, [buffer.buffer as ArrayBuffer]);
        // Over its own depth it waits for its acks; over the shared bound, for anyone's.
        while ((waiter.inFlight > IN_FLIGHT || totalInFlight > TOTAL_IN_FLIGHT) && !dropped) {
          await new Promise<void>((resolve) => waiter.resume = resolve);
          delete waiter.resume;
        }
      }
    },
    digest() {
      if (dropped) return Promise.reject(new Error("The digest was dropped"));
      return new Promise((resolve, reject) => {
        waiter.done = resolve;
        waiter.failed = reject;
        send({ op: "digest", key });
      });
    },
    drop() {
      dropped = true;
      waiters.delete(key);
      waiter.resume?.(); // a writer waiting on the bound must not wait forever
      waiter.failed?.(new Error("The digest was dropped")); // nor one waiting for the digest
      if (worker) worker.postMessage({ op: "drop", key });
      settle();
    },
  };
}
