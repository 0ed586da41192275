/** What a request addresses, and how a fuzz request is kept from legitimately changing a sentinel. */
import { KNOWN_METHODS } from "./constants.ts";
import type { FuzzRequest } from "./gen.ts";
import type { Sentinel, World } from "./world.ts";

export function fetchablePath(path: string): boolean {
  return path.startsWith("/") && !path.startsWith("//") && /^[\x21-\x7e]*$/.test(path) &&
    !/%(?![0-9A-Fa-f]{2})/.test(path);
}

/** The sentinel a path addresses once resolved as the server does (dot segments and all). */
export function addressedSentinel(world: World, path: string): Sentinel | undefined {
  let pathname: string;
  try {
    pathname = new URL(path, world.server.origin).pathname;
  } catch {
    return undefined;
  }
  const m = /^\/files\/([0-9a-f]{32})(\/status)?$/.exec(pathname);
  return m ? world.sentinels.find((s) => s.id === m[1]) : undefined;
}

/** The method the handler acts on: `X-HTTP-Method-Override` wins when it names a known one. */
export function effectiveMethod(req: FuzzRequest): string {
  const overrides = req.headers.filter(([k]) => k.toLowerCase() === "x-http-method-override");
  if (overrides.length === 0) return req.method;
  const joined = overrides.map(([, v]) => v).join(", ").trim().toUpperCase();
  return KNOWN_METHODS.has(joined) ? joined : "INVALID";
}

/**
 * A fuzz request may change a sentinel only through what the test forbids itself: a DELETE, or a
 * PATCH at the right offset, by its owner (or anyone, without auth). Those become a HEAD, or a
 * PATCH at a wrong offset; everything else (wrong offsets, Bob's requests, garbage) goes through.
 */
export function protectSentinels(world: World, req: FuzzRequest): void {
  const sentinel = world.sentinels.find((s) => req.path.includes(s.id));
  // Bob may try anything on Alice's uploads: for him they don't exist.
  if (!sentinel || req.asBob) return;
  const effective = effectiveMethod(req);
  if (effective === "DELETE") {
    req.method = "HEAD";
    req.headers = req.headers.filter(([k]) => k.toLowerCase() !== "x-http-method-override");
    req.body = undefined;
    req.bodyMode = "none";
    return;
  }
  if (effective === "PATCH" || req.method.toUpperCase() === "PATCH") {
    const committed = sentinel.content.length;
    const offsets = req.headers.filter(([k]) => k.toLowerCase() === "upload-offset");
    const joined = offsets.map(([, v]) => v).join(", ").trim();
    if (offsets.length > 0 && /^[0-9]+$/.test(joined) && Number(joined) === committed) {
      req.headers = req.headers.map(([k, v]) =>
        k.toLowerCase() === "upload-offset" ? [k, String(committed + 1)] : [k, v]
      );
    }
  }
}
