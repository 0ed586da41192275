/**
 * Reads up to `n` bytes of a body (fewer if it ends), giving them and a stream of the whole body
 * (those bytes, then the rest). All `n` must come within `deadlineMs` — one deadline, so a drip
 * can't stretch it — and a newer request or shutdown (`signal`) stops the wait at once.
 */
export async function peek(
  body: ReadableStream<Uint8Array>,
  n: number,
  deadlineMs: number,
  signal: AbortSignal,
) {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), deadlineMs);
    signal.addEventListener("abort", () => resolve(null), { once: true });
  });
  try {
    while (size < n && !signal.aborted) {
      const next = await Promise.race([
        reader.read().catch(() => ({ done: true as const, value: undefined })),
        late,
      ]);
      if (next === null || next.done) {
        ended = next !== null;
        break;
      }
      chunks.push(next.value);
      size += next.value.length;
    }
  } finally {
    clearTimeout(timer);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  reader.releaseLock();
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (all.length > 0) controller.enqueue(all);
      controller.close();
    },
  });
  return {
    head: all.subarray(0, n),
    ended,
    rest: ended ? rest : concatStreams(rest, body),
  };
}

/** One stream of `first`'s bytes, then `second`'s. */
export function concatStreams(
  first: ReadableStream<Uint8Array>,
  second: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const readers = [first.getReader(), second.getReader()];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (readers.length > 0) {
        const next = await readers[0]!.read();
        if (!next.done) return controller.enqueue(next.value);
        readers.shift();
      }
      controller.close();
    },
    async cancel(reason) {
      await Promise.all(readers.map((r) => r.cancel(reason)));
    },
  });
}
