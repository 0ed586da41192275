/**
 * Where the file store keeps things: `<dir>/<id[0:2]>/<id[2:4]>/<id>` holds an upload's bytes
 * and `<id>.info` its JSON info; temp files end in `.tmp`.
 */
export const INFO_SUFFIX = ".info";
export const TMP_SUFFIX = ".tmp";

export interface UploadPaths {
  /** The fan-out directory holding both files. */
  sub: string;
  data: string;
  info: string;
}

export function uploadPaths(dir: string, id: string): UploadPaths {
  const sub = `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}`;
  return { sub, data: `${sub}/${id}`, info: `${sub}/${id}${INFO_SUFFIX}` };
}

/** Every file in the fan-out directories (two levels of two hex characters). */
export async function* walk(dir: string): AsyncIterable<string> {
  const fanout = /^[0-9a-f]{2}$/;
  for await (const a of readDirSafe(dir)) {
    if (!a.isDirectory || !fanout.test(a.name)) continue;
    for await (const b of readDirSafe(`${dir}/${a.name}`)) {
      if (!b.isDirectory || !fanout.test(b.name)) continue;
      const sub = `${dir}/${a.name}/${b.name}`;
      for await (const f of readDirSafe(sub)) if (f.isFile) yield `${sub}/${f.name}`;
    }
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function* readDirSafe(path: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
