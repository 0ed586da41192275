/**
 * A second descriptor of a data file, opened through libc: Deno's FsFile exposes no descriptor
 * and takes no open flags, and early syncs (`early_sync.ts`) and direct writes
 * (`direct_write.ts`) each need one. Linux only, with `--allow-ffi`; elsewhere `openSecond`
 * returns undefined.
 */
import { cString, type Libc, libc, O } from "../../../lib/deno/libc.ts";

/**
 * `path` opened with open(2)'s `flags` (and close-on-exec), and the library to use it with;
 * undefined if it can't be.
 */
export function openSecond(path: string, flags: number): { libc: Libc; fd: number } | undefined {
  const lib = libc();
  if (!lib) return undefined;
  const fd = lib.open(cString(path), flags | O.CLOEXEC);
  return fd < 0 ? undefined : { libc: lib, fd };
}
