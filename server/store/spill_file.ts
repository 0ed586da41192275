import type { Spill } from "./types.ts";
import { WRITE_BUFFER, WriteBuffer } from "./write_buffer.ts";

/** A spill at `path`, created on the first write through one write buffer, removed on request. */
export function spillFile(path: string): Spill {
  let file: Deno.FsFile | undefined;
  let out: WriteBuffer | undefined;
  return {
    async write(bytes) {
      if (!out) {
        file = await Deno.open(path, { read: true, write: true, createNew: true });
        out = WriteBuffer.forFile(file);
      }
      await out.push(bytes);
    },
    async flush() {
      await out?.flush();
    },
    stream() {
      const staged = file;
      if (!staged) return ReadableStream.from([]);
      return ReadableStream.from((async function* () {
        await staged.seek(0, Deno.SeekMode.Start);
        while (true) {
          // A fresh piece each time: the reader may keep what it was given.
          const piece = new Uint8Array(WRITE_BUFFER);
          const n = await staged.read(piece);
          if (n === null) return;
          yield piece.subarray(0, n);
        }
      })());
    },
    async remove() {
      if (!file) return;
      try {
        file.close();
      } catch {
        // closed by its readable stream already
      }
      file = undefined;
      await Deno.remove(path).catch(() => {});
    },
  };
}
