import { UploadError } from "../lib/errors.ts";
import type { UploadSource } from "./core/source.ts";
import { noteFresh } from "../lib/deno/chunk_gc.ts";

export interface FileSource extends UploadSource {
  readonly path: string;
  readonly mtime: number;
}

/**
 * A file read by range with seek (never whole), under a shared lock. `check` fails once the file's
 * size or mtime differ from when it was opened.
 */
export async function openFileSource(path: string): Promise<FileSource> {
  const absolute = await Deno.realPath(path);
  const stat = await Deno.stat(absolute);
  if (!stat.isFile) {
    throw new UploadError(0, "usage", `${path} is not a regular file`);
  }
  const file = await Deno.open(absolute, { read: true });
  await file.lock(false);
  const size = stat.size;
  const mtime = stat.mtime?.getTime() ?? 0;
  // One handle, one position: a seek and its read must not interleave with another's (the
  // parts of a parallel upload read concurrently), so reads take turns.
  let turn: Promise<unknown> = Promise.resolve();
  const fill = async (offset: number, into: Uint8Array) => {
    const out = into.subarray(0, Math.max(0, Math.min(into.length, size - offset)));
    await file.seek(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < out.length) {
      const n = await file.read(out.subarray(got));
      if (n === null) break;
      got += n;
    }
    return got;
  };
  const readAt = async (offset: number, length: number) => {
    // A fresh buffer each time (a caller may hand it to fetch, which holds it until sent): counted,
    // so that the dead ones are collected every few MiB rather than piling up (`chunk_gc.ts`).
    const out = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
    noteFresh(out.length);
    return out.subarray(0, await fill(offset, out));
  };
  const inTurn = <T>(task: () => Promise<T>) => {
    const next = turn.then(task);
    turn = next.catch(() => {});
    return next;
  };
  return {
    path: absolute,
    size,
    mtime,
    read: (offset, length) => inTurn(() => readAt(offset, length)),
    readInto: (offset, into) => inTurn(() => fill(offset, into)),
    async check() {
      const now = await file.stat();
      if (now.size !== size || (now.mtime?.getTime() ?? 0) !== mtime) {
        throw new UploadError(
          0,
          "file-changed",
          `${path} changed during the upload (size ${size} → ${now.size}); start again`,
        );
      }
    },
    close() {
      try {
        file.close();
      } catch { /* already closed */ }
    },
  };
}
