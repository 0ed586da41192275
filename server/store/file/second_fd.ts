/**
 * A second descriptor of a data file, opened through libc: Deno's FsFile exposes no descriptor
 * and takes no open flags, and early syncs (`early_sync.ts`) and direct writes
 * (`direct_write.ts`) each need one. Linux only, with `--allow-ffi`; elsewhere `openSecond`
 * returns undefined.
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fdatasync: { parameters: ["i32"], result: "i32", nonblocking: true },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
} as const;

/** Not inherited by the child processes (hooks) the server starts. */
const O_CLOEXEC = 0o2000000;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    libc = null;
  }
  return libc;
}

/**
 * `path` opened with open(2)'s `flags` (and close-on-exec), and the library to use it with;
 * undefined if it can't be.
 */
export function openSecond(path: string, flags: number): { libc: Libc; fd: number } | undefined {
  const lib = load();
  if (!lib) return undefined;
  const fd = lib.open(new TextEncoder().encode(path + "\0"), flags | O_CLOEXEC);
  return fd < 0 ? undefined : { libc: lib, fd };
}
