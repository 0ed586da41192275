import { UploadError } from "../../../lib/errors.ts";
import { H } from "../../../lib/protocol.ts";
import { loadForReading } from "../concat.ts";
import type { Context } from "../context.ts";
import { digestHeaders } from "../digests.ts";
import { storedMetadata } from "../stored_metadata.ts";
import { isComplete } from "../../store/types.ts";

/**
 * GET /files/{id}: download a completed upload, with single `Range` requests (206/416), `ETag`,
 * `If-None-Match` and `If-Range`. The body is served as an attachment that browsers won't sniff.
 */
export async function get(ctx: Context): Promise<Response> {
  const id = ctx.id!;
  const info = await loadForReading(ctx, id);
  if (info.concat?.kind === "partial" && ctx.deps.config.allowTypes) {
    // Parts aren't type-checked (a middle part is any bytes); their final upload is.
    throw new UploadError(
      403,
      "partial-upload",
      `Upload ${id} is a part; with type checks on, it is served only through its final upload`,
    );
  }
  if (!isComplete(info)) {
    throw new UploadError(
      409,
      "incomplete",
      `Upload ${id} is incomplete: ${info.offset} of ${info.length ?? "?"} bytes stored`,
      { headers: { [H.uploadOffset]: String(info.offset) } },
    );
  }
  const size = info.offset;
  let digest: Record<string, string>;
  if (info.digests) digest = await digestHeaders(ctx, info);
  else {
    await using _lock = await ctx.deps.locker.acquire(id);
    digest = await digestHeaders(ctx, info);
  }
  const etag = `"${info.digests!.sha256}"`;
  const metadata = storedMetadata(info);
  const headers = new Headers({
    ...digest,
    "Accept-Ranges": "bytes",
    ETag: etag,
    "Content-Type": safeContentType(metadata.filetype),
    "Content-Disposition": contentDisposition(metadata.filename ?? id),
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
  });
  const inm = ctx.req.headers.get("if-none-match");
  const weakMatch = (t: string) => ["*", etag].includes(t.trim().replace(/^W\//, ""));
  if (inm !== null && inm.split(",").some(weakMatch)) {
    return new Response(null, { status: 304, headers });
  }
  const ifRange = ctx.req.headers.get("if-range");
  const rangeHeader = ifRange === null || ifRange === etag ? ctx.req.headers.get("range") : null;
  const range = rangeHeader === null ? null : parseRange(rangeHeader, size);
  if (range === "unsatisfiable") {
    throw new UploadError(416, "bad-range", `Range ${rangeHeader} is outside the ${size} bytes`, {
      headers: { "Content-Range": `bytes */${size}`, "Accept-Ranges": "bytes" },
    });
  }
  const [start, end] = range ?? [0, size];
  headers.set("Content-Length", String(end - start));
  if (range) headers.set("Content-Range", `bytes ${start}-${end - 1}/${size}`);
  const body = await ctx.deps.store.read(id, start, end);
  return new Response(body, { status: range ? 206 : 200, headers });
}

/**
 * One `bytes=` range as [start, end) within `size`; null when absent, malformed or multi-range
 * (served whole, as RFC 9110 allows), "unsatisfiable" for a well-formed range outside the data.
 */
export function parseRange(
  header: string,
  size: number,
): [number, number] | null | "unsatisfiable" {
  const m = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return size === 0 ? "unsatisfiable" : [Math.max(0, size - suffix), size];
  }
  const start = Number(m[1]);
  const last = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return null;
  if (start >= size) return "unsatisfiable";
  return [start, last + 1];
}

const ACTIVE_TYPES = /html|xml|javascript|ecmascript|svg|xhtml|multipart/i;

/** The declared type when it is a plain, passive media type; octet-stream otherwise. */
function safeContentType(type: string | null | undefined): string {
  if (!type || !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(type) || ACTIVE_TYPES.test(type)) {
    return "application/octet-stream";
  }
  return type;
}

/** `attachment` with an ASCII fallback and an RFC 5987 UTF-8 name; no path, quotes or controls. */
export function contentDisposition(name: string): string {
  // deno-lint-ignore no-control-regex -- control characters are exactly what is removed
  const cleaned = name.split(/[\\/]/).pop()!.replace(/[\x00-\x1f\x7f]/g, "").trim();
  const base = Array.from(cleaned.toWellFormed()).slice(0, 200).join("") || "download";
  const ascii = base.replace(/[^\x20-\x7e]/g, "_").replace(/["\\%;]/g, "_");
  const encoded = encodeURIComponent(base).replace(
    /['()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
