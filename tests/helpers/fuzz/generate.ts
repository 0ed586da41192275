/** One request from (seed, index) alone: a realistic one, often spoiled by chaos headers. */
import { addChaosHeaders } from "./chaos.ts";
import { KiB, KNOWN_METHODS, MiB, OCTETS, PARSER_METHODS } from "./constants.ts";
import { type BodyMode, type FuzzRequest, Gen } from "./gen.ts";
import { fetchablePath, protectSentinels } from "./sentinels.ts";
import {
  authHeader,
  bodyOf,
  checksumValue,
  concatValue,
  metadataValue,
  methodValue,
  pathValue,
  sha1,
} from "./values.ts";
import type { World } from "./world.ts";

/**
 * A request that is nearly right — a creation, an append, a HEAD, GET, status, DELETE, a
 * concatenation, in one of the three dialects — so the fuzzing reaches past the parsers.
 */
function realistic(
  g: Gen,
  world: World,
  idPool: string[],
  headers: [string, string][],
): { method: string; path: string; body?: Uint8Array<ArrayBuffer> } {
  const dialect = g.pick(["tus", "tus", "plain", "ietf"]);
  if (dialect === "tus") headers.push(["Tus-Resumable", "1.0.0"]);
  if (dialect === "ietf") headers.push(["Upload-Draft-Interop-Version", "6"]);
  const id = g.pick(idPool);
  const sentinel = world.sentinels.find((s) => s.id === id);
  const op = g.pick([
    "create",
    "create",
    "patch",
    "patch",
    "patch",
    "head",
    "get",
    "status",
    "delete",
    "concat",
    "options",
  ]);
  switch (op) {
    case "create": {
      const body = g.chance(0.4) ? bodyOf(g) : undefined;
      if (g.chance(0.7)) {
        headers.push([
          "Upload-Length",
          String(g.pick([0, 10, 1000, body?.length ?? 5, MiB, MiB + 1, g.int(0, 300 * KiB)])),
        ]);
      } else if (dialect !== "ietf") headers.push(["Upload-Defer-Length", "1"]);
      if (dialect === "ietf") headers.push(["Upload-Complete", g.pick(["?0", "?1"])]);
      if (g.chance(0.4)) headers.push(["Upload-Metadata", metadataValue(g)]);
      if (g.chance(0.15)) headers.push(["Upload-Concat", "partial"]);
      if (body) {
        headers.push(["Content-Type", OCTETS]);
        if (g.chance(0.3)) {
          headers.push([
            "Upload-Checksum",
            g.chance(0.5) ? `sha1 ${sha1(body)}` : checksumValue(g),
          ]);
        }
      }
      return { method: "POST", path: "/files", ...(body ? { body } : {}) };
    }
    case "patch": {
      const body = bodyOf(g);
      const committed = sentinel?.content.length;
      const offset = g.pick([0, 0, committed ?? 0, (committed ?? 0) + 1, g.int(0, 6000), 100000]);
      headers.push(["Upload-Offset", String(offset)]);
      headers.push(["Content-Type", dialect === "ietf" ? "application/partial-upload" : OCTETS]);
      if (dialect === "ietf") headers.push(["Upload-Complete", g.pick(["?0", "?1"])]);
      if (g.chance(0.3)) {
        headers.push(["Upload-Checksum", g.chance(0.5) ? `sha1 ${sha1(body)}` : checksumValue(g)]);
      }
      if (g.chance(0.1)) {
        headers.push(["Upload-Length", String(g.pick([offset + body.length, 10, MiB + 1]))]);
      }
      return { method: "PATCH", path: `/files/${id}`, body };
    }
    case "head":
      return { method: "HEAD", path: `/files/${id}` };
    case "get":
      if (g.chance(0.4)) {
        headers.push(["Range", g.pick(["bytes=0-10", "bytes=-5", "bytes=100-", "bytes=9-2"])]);
      }
      return { method: "GET", path: `/files/${id}` };
    case "status":
      return { method: "GET", path: `/files/${id}/status` };
    case "delete":
      return { method: "DELETE", path: `/files/${id}` };
    case "concat":
      headers.push(["Upload-Concat", concatValue(g, world, idPool)]);
      return { method: "POST", path: "/files" };
    default:
      return { method: "OPTIONS", path: g.pick(["/files", `/files/${id}`]) };
  }
}

export function generate(world: World, seed: number, index: number): FuzzRequest {
  const g = new Gen((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const sentinelIds = world.sentinels.map((s) => s.id);
  const scratchIds = world.scratch.map((p) => p.split("/").pop()!);
  const idPool = [...sentinelIds, ...sentinelIds, ...scratchIds, g.hex(32), "0".repeat(32)];
  const headers: [string, string][] = [];
  const asBob = authHeader(g, world, headers);
  let method: string;
  let path: string;
  let body: Uint8Array<ArrayBuffer> | undefined;
  let mayDrop: boolean;
  if (g.chance(0.5)) {
    // Nearly right, with a mutation or two.
    ({ method, path, body } = realistic(g, world, idPool, headers));
    if (g.chance(0.15)) method = methodValue(g);
    if (g.chance(0.15)) path = pathValue(g, idPool);
    mayDrop = addChaosHeaders(g, world, idPool, headers, g.int(0, 2));
  } else {
    // Chaos.
    method = methodValue(g);
    path = pathValue(g, idPool);
    mayDrop = addChaosHeaders(g, world, idPool, headers, g.int(0, 7));
    if (method !== "GET" && method !== "HEAD" && g.chance(0.7)) body = bodyOf(g);
  }

  // A head past the 16 KiB limit is refused by the HTTP layer, which closes at once: a client
  // still sending its body (fetch) may see a reset instead of the answer.
  const headSize = method.length + path.length +
    headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  if (headSize > 15 * KiB) mayDrop = true;
  // So is a method the HTTP parser doesn't know (it answers 400 and closes).
  if (!PARSER_METHODS.has(method)) mayDrop = true;

  let bodyMode: BodyMode = "none";
  if (body) {
    const roll = g.random();
    bodyMode = roll < 0.6
      ? "exact"
      : roll < 0.7
      ? "chunked"
      : roll < 0.75
      ? "chunked-trailer"
      : roll < 0.82
      ? "short-close"
      : roll < 0.832
      ? "short-stall"
      : roll < 0.88
      ? "extra-bytes"
      : roll < 0.92
      ? "bad-chunked"
      : "exact";
    if (bodyMode === "short-close" || bodyMode === "bad-chunked") mayDrop = true;
  }

  // What fetch can't send goes raw; raw for most of the rest too.
  const fetchable = KNOWN_METHODS.has(method) || /^[A-Z-]+$/.test(method) &&
      !["TRACE", "CONNECT", "TRACK"].includes(method);
  let via: "fetch" | "raw" = fetchable && g.chance(0.4) ? "fetch" : "raw";
  if (
    via === "fetch" && (
      !(bodyMode === "none" || bodyMode === "exact" || bodyMode === "chunked") ||
      mayDrop || !fetchablePath(path) ||
      headers.some(([k, v]) =>
        !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[^\x20-\x7e\x80-\xff]/.test(v) ||
        /^(content-length|transfer-encoding|host|connection|expect)$/i.test(k)
      )
    )
  ) via = "raw";
  if (via === "fetch" && (method === "GET" || method === "HEAD")) body = undefined;

  const req: FuzzRequest = {
    index,
    via,
    method,
    path,
    headers,
    body,
    bodyMode: body ? bodyMode : "none",
    mayDrop,
    asBob,
  };
  protectSentinels(world, req);
  return req;
}
