/**
 * Frees received network chunks promptly. The runtime hands each chunk of a request body over in
 * a fresh 64 KiB ArrayBuffer that is dead once copied, but V8 frees that memory only when it
 * collects the buffer, and with few JavaScript objects per chunk its young generation fills
 * seldom: tens of MiB of dead chunks pile up (and fragment malloc's heap) before a collection.
 * So every few MiB received, process-wide, the young generation is collected: a chunk that
 * died young is freed at once, for no more CPU than the collections V8 runs anyway. Chunks of
 * concurrent bodies live longer and some get promoted; those wait for a full collection, run
 * here once external memory passes a bound (rarely: a few per GiB of ten concurrent bodies).
 * Needs V8's `--expose-gc` (the `server` task gives it); without it this does nothing.
 */

/** Bytes received, by every request together, between two young-generation collections. */
export const CHUNK_GC_STEP = 4 * 1024 * 1024;
/** External (ArrayBuffer) memory over which a full collection runs. */
const EXTERNAL_MAX = 32 * 1024 * 1024;
/** After a full collection, the next waits until external memory has grown this much. */
const HEADROOM = 16 * 1024 * 1024;

type Gc = (options: { type: "minor" | "major" }) => void;
const gc = (globalThis as { gc?: Gc }).gc;
let received = 0;
let limit = EXTERNAL_MAX;

/** Counts `n` bytes received; collects garbage once every CHUNK_GC_STEP. */
export function noteReceived(n: number): void {
  if (!gc) return;
  received += n;
  if (received < CHUNK_GC_STEP) return;
  received = 0;
  gc({ type: "minor" });
  const external = Deno.memoryUsage().external;
  if (external < limit) return;
  gc({ type: "major" });
  limit = Math.max(EXTERNAL_MAX, Deno.memoryUsage().external + HEADROOM);
}
