/**
 * Memory for direct I/O (`server/store/file/direct_write.ts`): the disk reads it in place, so its
 * address, like the file offset and the length, must be a multiple of the device's logical block
 * size; 4 KiB covers the common ones (512 and 4,096 bytes). Seeing an address takes FFI: without
 * it, memory is plain and nothing counts as aligned, so writes go through the page cache.
 */
export const DIRECT_ALIGN = 4096;

let visible: boolean | undefined;

function addressesVisible(): boolean {
  return visible ??= Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/** Whether `bytes` start at an aligned address (false where addresses can't be seen). */
export function isAligned(bytes: Uint8Array): boolean {
  if (bytes.length === 0 || !addressesVisible()) return false;
  const pointer = Deno.UnsafePointer.of(bytes);
  return pointer !== null && Number(Deno.UnsafePointer.value(pointer)) % DIRECT_ALIGN === 0;
}

/** `size` bytes at an aligned address where addresses can be seen; else a plain array. */
export function alignedBytes(size: number): Uint8Array {
  if (!addressesVisible()) return new Uint8Array(size);
  const room = new Uint8Array(size + DIRECT_ALIGN);
  const address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(room)!));
  const start = (DIRECT_ALIGN - (address % DIRECT_ALIGN)) % DIRECT_ALIGN;
  return room.subarray(start, start + size);
}
