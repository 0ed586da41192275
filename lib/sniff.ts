/**
 * What the first bytes of an upload say it is, by magic number: PNG, JPEG, GIF, WebP, PDF, ZIP,
 * gzip, MP4 (and its audio/QuickTime kin), or plain text (UTF-8 without control bytes).
 */

/** Bytes worth looking at: enough for every magic number and a fair text sample. */
export const SNIFF_BYTES = 512;

const ascii = (bytes: Uint8Array, at: number, text: string) =>
  text.split("").every((c, i) => bytes[at + i] === c.charCodeAt(0));

/** The media type `head` sniffs as; `complete` says head is the whole upload (no cut text). */
export function sniffType(head: Uint8Array, complete = false): string | undefined {
  const b = head;
  if (b.length >= 8 && ascii(b, 1, "PNG") && b[0] === 0x89 && b[4] === 0x0d && b[5] === 0x0a) {
    return "image/png";
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a")) return "image/gif";
  if (b.length >= 12 && ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return "image/webp";
  if (ascii(b, 0, "%PDF-")) return "application/pdf";
  if (b.length >= 4 && ascii(b, 0, "PK") && [3, 5, 7].includes(b[2]!) && b[3] === b[2]! + 1) {
    return "application/zip";
  }
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return "application/gzip";
  if (b.length >= 12 && ascii(b, 4, "ftyp")) {
    if (ascii(b, 8, "M4A ")) return "audio/mp4";
    if (ascii(b, 8, "qt  ")) return "video/quicktime";
    return "video/mp4";
  }
  return isText(head, complete) ? "text/plain" : undefined;
}

/** UTF-8 with no control bytes but tab, CR, LF and form feed; a sequence cut at the end is fine. */
function isText(head: Uint8Array, complete: boolean): boolean {
  if (head.length === 0) return false;
  for (const byte of head) {
    if (byte < 0x20 && byte !== 9 && byte !== 10 && byte !== 12 && byte !== 13) return false;
    if (byte === 0x7f) return false;
  }
  for (let cut = 0; cut <= (complete ? 0 : 3) && cut < head.length; cut++) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, head.length - cut));
      return true;
    } catch { /* maybe a sequence cut at the end: try shorter */ }
  }
  return false;
}

/** Whether `type` matches one of `patterns` ("image/*" or exact "application/pdf"). */
export function typeAllowed(type: string, patterns: string[]): boolean {
  return patterns.some((p) =>
    p === type || (p.endsWith("/*") && type.startsWith(p.slice(0, -1))) || p === "*/*"
  );
}

/**
 * Whether a declared type (e.g. `filetype` metadata) agrees with the sniffed one. Generic
 * declarations (application/octet-stream) agree with anything; any text/* agrees with text.
 */
export function declaredMatches(declared: string, sniffed: string): boolean {
  const type = declared.split(";")[0]!.trim().toLowerCase();
  if (type === "" || type === "application/octet-stream") return true;
  if (sniffed === "text/plain") return type.startsWith("text/");
  const aliases: Record<string, string[]> = {
    "image/jpeg": ["image/jpg", "image/pjpeg"],
    "application/zip": ["application/x-zip-compressed", "application/x-zip"],
    "application/gzip": ["application/x-gzip"],
    "video/mp4": ["video/mp4", "application/mp4", "video/x-m4v"],
    "audio/mp4": ["audio/x-m4a", "audio/m4a"],
  };
  return type === sniffed || (aliases[sniffed] ?? []).includes(type);
}
