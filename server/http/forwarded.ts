import type { Context } from "./context.ts";

const HOST = /^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

/** The scheme and authority clients see: the outermost proxy's, with `--behind-proxy`. */
export function publicOrigin(ctx: Context): string {
  if (!ctx.deps.config.behindProxy) return ctx.url.origin;
  // The first element: what the client asked the outermost proxy for.
  const first = forwardedElements(ctx.req)[0];
  const proto = first?.proto ?? ctx.req.headers.get("x-forwarded-proto")?.split(",")[0]?.trim();
  const host = first?.host ?? ctx.req.headers.get("x-forwarded-host")?.split(",")[0]?.trim();
  const scheme = proto === "https" || proto === "http" ? proto : ctx.url.protocol.slice(0, -1);
  const authority = host && HOST.test(host) ? host : ctx.url.host;
  return `${scheme}://${authority}`;
}

/** The elements of `Forwarded` (RFC 7239), each as its lower-cased parameters, quotes removed. */
function forwardedElements(req: Request): Record<string, string>[] {
  const header = req.headers.get("forwarded");
  if (!header) return [];
  return header.split(",").map((element) => {
    const params: Record<string, string> = {};
    for (const part of element.split(";")) {
      const i = part.indexOf("=");
      if (i > 0) {
        params[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim().replace(
          /^"|"$/g,
          "",
        );
      }
    }
    return params;
  });
}

/**
 * The client's address, for per-address limits: the connection's peer; behind a proxy
 * (`--behind-proxy`), the address our proxy saw — the last `Forwarded: for=` or `X-Forwarded-For`
 * entry, the one it added: earlier entries come from the client and can be made up.
 */
export function clientAddress(ctx: Context): string {
  const peer = ctx.deps.peer?.(ctx.req) ?? "unknown";
  if (!ctx.deps.config.behindProxy) return peer;
  const forwarded = forwardedElements(ctx.req).at(-1)?.for;
  const listed = forwarded ??
    ctx.req.headers.get("x-forwarded-for")?.split(",").at(-1)?.trim();
  if (!listed) return peer;
  // `[2001:db8::1]:4711` and `192.0.2.1:4711` without the port; IPv6 without brackets.
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(listed);
  if (v6) return v6[1]!.toLowerCase();
  return /^[^:]+:\d+$/.test(listed)
    ? listed.slice(0, listed.lastIndexOf(":"))
    : listed.toLowerCase();
}
