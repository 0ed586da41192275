/**
 * The C library through Deno's FFI, for what the runtime's own APIs don't offer: a descriptor
 * opened with flags (`O_DIRECT`, `O_CLOEXEC`) and `fdatasync`/`pwrite` on it, `syncfs` of a
 * filesystem, and reading a directory Deno's permissions keep closed (`/proc/self/fd`). The calls
 * that wait for the disk are `nonblocking`: they run on one of the runtime's blocking threads.
 * Loaded once; null off Linux or without `--allow-ffi` (it never prompts), so every caller keeps a
 * path without it.
 */
import { openLibrary } from "./ffi.ts";

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

/** The library's symbols, or null where it can't be loaded (see `openLibrary`). */
export function libc(): Libc | null {
  if (loaded === undefined) {
    loaded = Deno.build.os === "linux" ? openLibrary("libc.so.6", SYMBOLS) : null;
  }
  return loaded;
}

/** open(2)'s flags, as Linux numbers them: O_DIRECTORY and O_DIRECT trade values on arm64. */
const ARM64 = Deno.build.arch === "aarch64";
export const O = {
  RDONLY: 0,
  WRONLY: 0o1,
  DIRECTORY: ARM64 ? 0o40000 : 0o200000,
  DIRECT: ARM64 ? 0o200000 : 0o40000,
  /** Not inherited by child processes (the server's hooks). */
  CLOEXEC: 0o2000000,
} as const;

/** `text` as a NUL-terminated C string. */
export function cString(text: string): Uint8Array {
  return new TextEncoder().encode(text + "\0");
}
