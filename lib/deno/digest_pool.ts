/**
 * MD5 + SHA-256 computed on other threads, so hashing overlaps the network and disk work of the
 * main thread. With libcrypto (`--allow-ffi`), on the runtime's blocking threads
 * (`digest_native.ts`). Without it, on a pool of Web Workers running node:crypto, sized to the
 * machine (one per core, started on demand): each running state has its MD5 on one worker and
 * its SHA-256 on another, so an upload is bound by MD5 alone, and concurrent uploads spread their
 * MD5s over different workers (cores). Bytes are copied once into pieces of shared memory that
 * both workers read; bytes in flight are bounded per state and in total, so memory stays flat.
 */
import { type Digests, DigestState } from "./digest.ts";
import { givePiece, nativeDigest, PIECE, sparePieces, takePiece } from "./digest_native.ts";
import type { Algorithm, WorkerReply, WorkerRequest } from "./digest_worker.ts";
import { libcrypto } from "./libcrypto.ts";
import { SpareBuffers } from "../spare_buffers.ts";

export { sparePieces, takePiece };

/** A running MD5 + SHA-256; `update` resolves once the bytes in flight are back under the bound. */
export interface RunningDigest {
  /** Bytes fed so far. */
  readonly length: number;
  /** Hashed on the calling thread (`inlineDigest`), not the workers. */
  readonly inline?: boolean;
  /** Feeds bytes (copied into pooled buffers: the caller may reuse its own at once). */
  update(bytes: Uint8Array): Promise<void>;
  /**
   * Feeds bytes without copying them, where the state can: resolves once both hashes have read
   * them, and until then the caller must leave them untouched.
   */
  borrow?(bytes: Uint8Array): Promise<void>;
  /**
   * Feeds a piece from `takePiece` (its first bytes) without copying it; the piece belongs to
   * the digest from then on, which puts it back in the pool once hashed (so, unlike `borrow`, it
   * resolves within the bound on bytes in flight, not after the hashing). Where absent, `update`
   * and `givePiece` do the same with a copy (`adoptPiece`).
   */
  adopt?(piece: Uint8Array): Promise<void>;
  /** Finishes; the state can't be used afterwards. */
  digest(): Promise<Digests>;
  /** Throws the state away. */
  drop(): void;
}

/**
 * Hands `piece` (from `takePiece`) to `digest` uncopied where it can adopt pieces; otherwise the
 * digest copies it and the piece goes back to the pool. Without a digest it just goes back.
 */
export async function adoptPiece(
  digest: RunningDigest | undefined,
  piece: Uint8Array,
): Promise<void> {
  if (digest?.adopt) return await digest.adopt(piece);
  await digest?.update(piece);
  givePiece(piece);
}

/** Bytes one state may have in flight to the workers before `update` waits (pipeline depth). */
const IN_FLIGHT = 4 * 1024 * 1024;
/**
 * Bytes all states together may have in flight: many concurrent uploads share this, so memory
 * stays bounded (10 uploads × 4 MiB of queued copies would be 40 MiB) while one alone still gets
 * the whole depth.
 */
const TOTAL_IN_FLIGHT = 16 * 1024 * 1024;
let totalInFlight = 0;
/** Pieces the workers read (shared memory), and idle ones kept for reuse, up to the bound. */
const sharedPieces = new SpareBuffers(
  PIECE,
  TOTAL_IN_FLIGHT / PIECE,
  () => new Uint8Array(new SharedArrayBuffer(PIECE)),
);

/** How many hashing threads at most: one per core (at least two, so MD5 and SHA-256 overlap). */
export const POOL_SIZE = Math.max(2, navigator.hardwareConcurrency || 1);

interface Slot {
  worker?: Worker;
  /** Live states hashing here, weighted by cost (an MD5 counts twice a SHA-256). */
  load: number;
  /** Messages awaiting an answer. */
  pending: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

const slots: Slot[] = Array.from({ length: POOL_SIZE }, () => ({ load: 0, pending: 0 }));

interface Waiter {
  inFlight: number;
  resume?: () => void;
  /** Partial answers of the digest, one per worker involved. */
  answers?: Partial<Digests>;
  /** Which worker computed which digest. */
  workers: Partial<Record<Algorithm, string>>;
  expected?: number;
  done?: (digests: Digests) => void;
  failed?: (error: Error) => void;
}

interface Piece {
  /** The whole pooled buffer (`PIECE` bytes), of which the first `n` are this piece. */
  buffer: Uint8Array;
  n: number;
  /** Workers still reading it. */
  readers: number;
  waiter: Waiter;
}

const waiters = new Map<number, Waiter>();
const pieces = new Map<number, Piece>();
let nextKey = 1;
let nextPiece = 1;

/** MD5 weighs twice SHA-256 (it runs at half the speed here: SHA-256 has CPU extensions). */
const WEIGHT: Record<Algorithm, number> = { md5: 2, sha256: 1 };

function onReply(slot: Slot, { data: m }: MessageEvent<WorkerReply>): void {
  slot.pending--;
  if (m.op === "ack") {
    const piece = pieces.get(m.piece);
    if (piece && --piece.readers === 0) {
      pieces.delete(m.piece);
      sharedPieces.give(piece.buffer);
      const n = piece.n;
      totalInFlight -= n;
      piece.waiter.inFlight -= n;
      if (piece.waiter.inFlight <= IN_FLIGHT / 2) piece.waiter.resume?.();
      if (totalInFlight <= TOTAL_IN_FLIGHT / 2) { for (const w of waiters.values()) w.resume?.(); }
    }
  } else {
    const waiter = waiters.get(m.key);
    if (waiter) {
      Object.assign(waiter.answers ??= {}, {
        ...(m.md5 ? { md5: m.md5 } : {}),
        ...(m.sha256 ? { sha256: m.sha256 } : {}),
      });
      if (m.md5) waiter.workers.md5 = m.worker;
      if (m.sha256) waiter.workers.sha256 = m.worker;
      if (--waiter.expected! === 0) {
        waiters.delete(m.key);
        waiter.done?.(waiter.answers as Digests);
      }
    }
  }
  settle(slot);
}

function start(index: number): Worker {
  const slot = slots[index]!;
  clearTimeout(slot.idleTimer);
  if (slot.worker) return slot.worker;
  const url = new URL("./digest_worker.ts", import.meta.url).href;
  const worker = new Worker(url, { type: "module", name: `digest-${index}` });
  worker.onmessage = (event) => onReply(slot, event);
  slot.worker = worker;
  return worker;
}

/**
 * A Web Worker keeps a Deno process alive, so once a worker has no state and nothing in flight it
 * is ended (after a short, unref'd grace period).
 */
function settle(slot: Slot): void {
  if (slot.pending > 0 || slot.load > 0 || !slot.worker) return;
  clearTimeout(slot.idleTimer);
  slot.idleTimer = setTimeout(() => {
    if (slot.pending > 0 || slot.load > 0) return;
    slot.worker?.terminate();
    delete slot.worker;
  }, 1000);
  Deno.unrefTimer(slot.idleTimer as unknown as number);
}

function send(index: number, message: WorkerRequest): void {
  slots[index]!.pending++;
  start(index).postMessage(message);
}

/** The least loaded slot, other than `not` (the lowest index on a tie: started ones first). */
function leastLoaded(not?: number): number {
  let best = -1;
  for (let i = 0; i < slots.length; i++) {
    if (i !== not && (best < 0 || slots[i]!.load < slots[best]!.load)) best = i;
  }
  return best;
}

/**
 * A running digest computed right here, for bodies so small (a few KiB to 1 MiB, all at hand)
 * that a round trip to a worker costs more than the hashing.
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

/** A running digest on other threads: libcrypto's where it loads, else the worker pool's. */
export function offThreadDigest(): RunningDigest {
  const lib = libcrypto();
  return lib ? nativeDigest(lib) : workerDigest();
}

/** A running digest on the worker pool; `hashedBy` names the worker of each digest (once digested). */
export function workerDigest(): RunningDigest & {
  readonly hashedBy: Readonly<Partial<Record<Algorithm, string>>>;
} {
  const key = nextKey++;
  const waiter: Waiter = { inFlight: 0, workers: {} };
  waiters.set(key, waiter);
  // MD5 on the least loaded worker, SHA-256 on the next least loaded other one.
  const md5At = leastLoaded();
  const sha256At = leastLoaded(md5At);
  const plan = new Map<number, Algorithm[]>([[md5At, ["md5"]], [sha256At, ["sha256"]]]);
  for (const [at, algorithms] of plan) {
    for (const a of algorithms) slots[at]!.load += WEIGHT[a];
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const [at, algorithms] of plan) {
      for (const a of algorithms) slots[at]!.load -= WEIGHT[a];
      settle(slots[at]!);
    }
  };
  let length = 0;
  let dropped = false;
  return {
    get length() {
      return length;
    },
    get hashedBy() {
      return waiter.workers;
    },
    async update(bytes) {
      if (dropped) return;
      for (let at = 0; at < bytes.length; at += PIECE) {
        const part = bytes.subarray(at, at + PIECE);
        const buffer = sharedPieces.take();
        buffer.set(part);
        const id = nextPiece++;
        pieces.set(id, { buffer, n: part.length, readers: plan.size, waiter });
        const shared = part.length === PIECE ? buffer : buffer.subarray(0, part.length);
        length += part.length;
        waiter.inFlight += part.length;
        totalInFlight += part.length;
        for (const [index, algorithms] of plan) {
          send(index, { op: "update", key, algorithms, bytes: shared, piece: id });
        }
        // Over its own depth it waits for its acks; over the shared bound, for anyone's.
        while ((waiter.inFlight > IN_FLIGHT || totalInFlight > TOTAL_IN_FLIGHT) && !dropped) {
          await new Promise<void>((resolve) => waiter.resume = resolve);
          delete waiter.resume;
        }
      }
    },
    digest() {
      if (dropped) return Promise.reject(new Error("The digest was dropped"));
      return new Promise<Digests>((resolve, reject) => {
        waiter.expected = plan.size;
        waiter.done = (digests) => {
          release();
          resolve(digests);
        };
        waiter.failed = reject;
        for (const [index, algorithms] of plan) send(index, { op: "digest", key, algorithms });
      });
    },
    drop() {
      dropped = true;
      waiters.delete(key);
      waiter.resume?.(); // a writer waiting on the bound must not wait forever
      waiter.failed?.(new Error("The digest was dropped")); // nor one waiting for the digest
      for (const index of plan.keys()) slots[index]!.worker?.postMessage({ op: "drop", key });
      release();
    },
  };
}
