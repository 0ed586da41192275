/**
 * Frees received network chunks promptly. The runtime hands each chunk of a request body over in
 * a fresh 64 KiB ArrayBuffer that is dead once copied, but V8 frees that memory only when it
 * collects the buffer, and with few JavaScript objects per chunk its young generation fills
 * seldom: tens of MiB of dead chunks pile up (and fragment malloc's heap) before a collection.
 * So every few MiB received, process-wide, the young generation is collected: a chunk that
 * died young is freed at once, for no more CPU than the collections V8 runs anyway. Chunks of
 * concurrent bodies live longer and some get promoted; those wait for a full collection, run
 * here once external memory passes a bound (rarely: a few per GiB of ten concurrent bodies).
 * The JavaScript heap gets the same treatment: the objects a long upload leaves behind (an S3
 * part's request and response, say) are promoted a few at a time, and V8 sizes its first full
 * collection by the heap's size, not by the RSS the process may have; so the old generation grows
 * throughout a long upload unless a full collection, run here once the heap has grown by a quarter
 * (at least 2 MiB) past what the last one kept, keeps it at what is alive (and V8 then sizes its
 * own by that).
 * The client is in the same position when it sends a chunk too big to buffer: each piece it reads
 * from the file is a fresh buffer, dead once sent (`client/file_source.ts` notes them too).
 * Needs V8's `--expose-gc` (the `server` and `client` tasks give it); without it this does nothing.
 */

/** Fresh bytes (every request body, or file piece, together) between two young-generation collections. */
export const CHUNK_GC_STEP = 4 * 1024 * 1024;
/** External (ArrayBuffer) memory over which a full collection runs. */
const EXTERNAL_MAX = 16 * 1024 * 1024;
/** After a full collection, the next waits until external memory has grown this much. */
const HEADROOM = 8 * 1024 * 1024;
/** Heap in use over which the first full collection runs (a server idles at 7–11 MiB). */
const HEAP_FIRST = 12 * 1024 * 1024;
/**
 * After a full collection, the next for the heap's sake waits until it has grown by this much or
 * a quarter of what was kept, whichever is more (a big heap costs more to collect)…
 */
const HEAP_HEADROOM = 2 * 1024 * 1024;
/** …and until this many more fresh bytes have come. */
const HEAP_SPACING = 64 * 1024 * 1024;

type Gc = (options: { type: "minor" | "major" }) => void;
const gc = (globalThis as { gc?: Gc }).gc;
let fresh = 0;
let limit = EXTERNAL_MAX;
let heapLimit = HEAP_FIRST;
/** Fresh bytes since the last full collection. */
let sinceMajor = 0;

/**
 * Counts `n` bytes that arrived in a fresh buffer soon dead (a received chunk, a piece read to be
 * sent); collects garbage once every CHUNK_GC_STEP.
 */
export function noteFresh(n: number): void {
  if (!gc) return;
  fresh += n;
  if (fresh < CHUNK_GC_STEP) return;
  sinceMajor += fresh;
  fresh = 0;
  gc({ type: "minor" });
  const usage = Deno.memoryUsage();
  const heapGrown = usage.heapUsed > heapLimit && sinceMajor >= HEAP_SPACING;
  if (usage.external < limit && !heapGrown) return;
  gc({ type: "major" });
  sinceMajor = 0;
  const kept = Deno.memoryUsage();
  limit = Math.max(EXTERNAL_MAX, kept.external + HEADROOM);
  heapLimit = Math.max(HEAP_FIRST, kept.heapUsed + Math.max(HEAP_HEADROOM, kept.heapUsed / 4));
}
