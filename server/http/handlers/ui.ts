/**
 * The upload page: `GET /` and its three assets under `/ui/`, from the generated
 * `server/http/ui_bundle.ts` (built from `web/` by `deno task build:web`), so the page ships inside
 * the program and fetches nothing from elsewhere. No auth for the page itself: the uploads it
 * makes carry the token. Off with `--no-ui` (then these paths are 404 like any unknown path).
 */
import type { ServerConfig } from "../../config/config.ts";
import { APP_CSS, APP_JS, HASH_WORKER_JS, INDEX_HTML } from "../ui_bundle.ts";

/** Same origin only: no inline script or style, no framing, nothing from elsewhere. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ASSETS: Record<string, { type: string; body: string }> = {
  "/ui/app.js": { type: "text/javascript; charset=utf-8", body: APP_JS },
  "/ui/hash_worker.js": { type: "text/javascript; charset=utf-8", body: HASH_WORKER_JS },
  "/ui/app.css": { type: "text/css; charset=utf-8", body: APP_CSS },
};

/**
 * The page or an asset for a GET or HEAD of `path`; undefined for any other method or path, or
 * with `--no-ui`, so routing goes on as if this did not exist.
 */
export function ui(method: string, path: string, config: ServerConfig): Response | undefined {
  if (!config.ui || (method !== "GET" && method !== "HEAD")) return undefined;
  const head = method === "HEAD";
  if (path === "/") return respond(page(INDEX_HTML, config), "text/html; charset=utf-8", head);
  const asset = ASSETS[path];
  return asset ? respond(asset.body, asset.type, head) : undefined;
}

/** The HTML, told where the uploads go and whether they need a token. */
function page(html: string, config: ServerConfig): string {
  return html
    .replace("{{ENDPOINT}}", escapeAttribute(config.basePath || "/"))
    .replace("{{AUTH}}", config.authSecret === undefined ? "off" : "required");
}

function respond(body: string, type: string, head: boolean): Response {
  return new Response(head ? null : body, {
    headers: {
      "Content-Type": type,
      "Content-Security-Policy": UI_CSP,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
      "Cache-Control": "no-cache",
    },
  });
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
