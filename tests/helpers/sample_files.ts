/** Bytes that sniff as a given file type: PNG, ZIP, ELF. */
import { randomBytes } from "./uploads.ts";

/** A PNG: its signature and an IHDR chunk, then filler. */
export function pngBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size, seed);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  bytes.set([0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0], 8);
  return bytes;
}

/** A ZIP local file header, then filler. */
export function zipBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size, seed);
  bytes.set([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]);
  return bytes;
}

/** An ELF executable header, then filler. */
export function elfBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = randomBytes(size, seed);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]);
  return bytes;
}
