import { badRequest } from "./errors.ts";
/**
 * The tus `Upload-Metadata` codec: comma-separated `key base64(value)` pairs. Keys are unique,
 * non-empty and free of spaces and commas; a value may be absent.
 */
export type Metadata = Record<string, string | null>;

/** Longest `Upload-Metadata` header accepted, in characters. */
export const MAX_METADATA_LENGTH = 16 * 1024;

const KEY = /^[\x21-\x2b\x2d-\x7e]+$/; // printable ASCII without space and comma
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Validates a header and returns its pairs with the values still base64-encoded (so the header can
 * be echoed exactly). Throws a 400 UploadError with a message naming the offending pair.
 */
export function parseMetadataHeader(header: string): Map<string, string | null> {
  const pairs = new Map<string, string | null>();
  if (header.length > MAX_METADATA_LENGTH) {
    throw badRequest(`Upload-Metadata is longer than ${MAX_METADATA_LENGTH} characters`);
  }
  if (header.trim() === "") return pairs;
  for (const raw of header.split(",")) {
    const pair = raw.trim();
    const parts = pair.split(" ");
    if (parts.length > 2) {
      throw badRequest(`Invalid Upload-Metadata pair ${quote(pair)}: expected "key base64"`);
    }
    const [key = "", value] = parts;
    if (!KEY.test(key)) {
      throw badRequest(
        `Invalid Upload-Metadata key ${quote(key)}: keys must be non-empty ASCII without spaces`,
      );
    }
    if (pairs.has(key)) throw badRequest(`Duplicate Upload-Metadata key ${quote(key)}`);
    if (value !== undefined && !BASE64.test(value)) {
      throw badRequest(`Invalid Upload-Metadata value for ${quote(key)}: not base64`);
    }
    pairs.set(key, value === undefined || value === "" ? null : value);
  }
  return pairs;
}

/** Serialises validated pairs back into a canonical header (", " is not used, "," is). */
export function formatMetadataHeader(pairs: Map<string, string | null>): string {
  return [...pairs].map(([k, v]) => (v === null ? k : `${k} ${v}`)).join(",");
}

/** Decodes a header into UTF-8 strings (invalid UTF-8 is replaced, never thrown). */
export function decodeMetadata(header: string): Metadata {
  const out: Metadata = {};
  for (const [k, v] of parseMetadataHeader(header)) {
    out[k] = v === null ? null : new TextDecoder().decode(base64ToBytes(v));
  }
  return out;
}

/** Encodes string values into a header, in the object's key order. */
export function encodeMetadata(metadata: Metadata): string {
  const pairs = new Map<string, string | null>();
  for (const [k, v] of Object.entries(metadata)) {
    if (!KEY.test(k)) throw new SyntaxError(`Invalid metadata key ${quote(k)}`);
    pairs.set(k, v === null ? null : bytesToBase64(new TextEncoder().encode(v)));
  }
  return formatMetadataHeader(pairs);
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}
