/**
 * The C library through Deno's FFI, for what the runtime's own APIs don't offer: a descriptor
 * opened with flags (`O_DIRECT`, `O_CLOEXEC`) and `fdatasync`/`pwrite` on it, `syncfs` of a
 * filesystem, and reading a directory Deno's permissions keep closed (`/proc/self/fd`). The calls
 * that wait for the disk are `nonblocking`: they run on one of the runtime's blocking threads.
 * Loaded once; null off Linux or without `--allow-ffi` (it never prompts), so every caller keeps a
 * path without it.
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fdatasync: { parameters: ["i32"], result: "i32", nonblocking: true },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
  opendir: { parameters: ["buffer"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
} as const;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: Libc | null | undefined;

/** The library's symbols, or null where it can't be loaded. */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
      loaded = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    }
  } catch {
    loaded = null;
  }
  return loaded;
}

/** open(2)'s flag for a descriptor not inherited by child processes (the server's hooks). */
export const O_CLOEXEC = 0o2000000;

/** `text` as a NUL-terminated C string. */
export function cString(text: string): Uint8Array {
  return new TextEncoder().encode(text + "\0");
}
