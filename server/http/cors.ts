import { ALLOWED_HEADERS, EXPOSED_HEADERS } from "../../lib/protocol.ts";

const METHODS = "GET, HEAD, POST, PATCH, DELETE, OPTIONS";

/** The CORS headers for a request from `origin`, or none if the origin is not allowed. */
export function corsHeaders(allowed: string[], origin: string | null): Record<string, string> {
  if (origin === null || allowed.length === 0) return {};
  const any = allowed.includes("*");
  if (!any && !allowed.includes(origin)) return {};
  return {
    "Access-Control-Allow-Origin": any ? "*" : origin,
    "Access-Control-Expose-Headers": EXPOSED_HEADERS.join(", "),
    ...(any ? {} : { Vary: "Origin" }),
  };
}

/** Answers a browser's preflight request. */
export function preflight(allowed: string[], origin: string | null): Response {
  const headers = corsHeaders(allowed, origin);
  if (Object.keys(headers).length === 0) return new Response(null, { status: 204 });
  return new Response(null, {
    status: 204,
    headers: {
      ...headers,
      "Access-Control-Allow-Methods": METHODS,
      "Access-Control-Allow-Headers": ALLOWED_HEADERS.join(", "),
      "Access-Control-Max-Age": "86400",
    },
  });
}
