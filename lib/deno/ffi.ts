/**
 * Opening a native library through Deno's FFI, the same way for every one the program uses: null
 * where the library is missing or `--allow-ffi` isn't granted (it never prompts), so each caller
 * keeps a path without it.
 */
export function openLibrary<const S extends Deno.ForeignLibraryInterface>(
  name: string,
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | null {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    return Deno.dlopen(name, symbols).symbols;
  } catch {
    return null;
  }
}
