/** Bytes read from a data file at a time. */
const READ_PIECE = 256 * 1024;

/** Streams bytes [start, end) of the file at `path`; an error if it ends before `end`. */
export async function readRange(
  path: string,
  start: number,
  end: number,
): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  let left = end - start;
  return new ReadableStream<Uint8Array>({
    type: "bytes",
    async pull(controller) {
      const chunk = new Uint8Array(Math.min(left, READ_PIECE));
      const n = chunk.length === 0 ? null : await file.read(chunk);
      if (n === null) {
        file.close();
        if (left > 0) controller.error(new Error(`${path} is shorter than expected`));
        else controller.close();
        return;
      }
      left -= n;
      controller.enqueue(chunk.subarray(0, n));
    },
    cancel() {
      file.close();
    },
  });
}
