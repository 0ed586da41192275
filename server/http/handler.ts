import { toUploadError, UploadError } from "../../lib/errors.ts";
import { defined, type OrUndefined } from "../../lib/defined.ts";
import { isUploadId } from "../../lib/ids.ts";
import { H, TUS_VERSION } from "../../lib/protocol.ts";
import type { Context, Dialect, RequestMeta } from "./context.ts";
import type { Deps } from "./deps.ts";
import { Metrics } from "./metrics.ts";
import { OPERATIONS } from "./operations.ts";
import { Progress } from "./progress.ts";
import { fromStore } from "./store_errors.ts";
import { logWhenSent } from "./request_log.ts";
import { draftRules } from "../../lib/ietf_versions.ts";
import { problem, unsupportedVersion } from "./ietf.ts";
import { authenticate } from "./auth.ts";
import { corsHeaders, preflight } from "./cors.ts";
import { del } from "./handlers/delete.ts";
import { get } from "./handlers/get.ts";
import { head } from "./handlers/head.ts";
import { list } from "./handlers/list.ts";
import { options } from "./handlers/options.ts";
import { patch } from "./handlers/patch.ts";
import { post } from "./handlers/post.ts";
import { status } from "./handlers/status.ts";
import { ui } from "./handlers/ui.ts";
import { MemoryLocker } from "../lock/locker.ts";
import { MemoryRateCounter } from "./rate_limit.ts";

type Route = (ctx: Context) => Response | Promise<Response>;

const COLLECTION: Record<string, Route> = { OPTIONS: options, POST: post, GET: list };
const UPLOAD: Record<string, Route> = {
  OPTIONS: options,
  HEAD: head,
  PATCH: patch,
  DELETE: del,
  GET: get,
};
const STATUS: Record<string, Route> = { GET: status };
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "PUT"]);

/**
 * What `createHandler` is given: the parts of `Deps`, where everything beyond the configuration and
 * the store has a default (or is simply off) when absent or undefined.
 */
export type HandlerOptions =
  & Pick<Deps, "config" | "store">
  & OrUndefined<Omit<Deps, "config" | "store" | "active">>;

/** The whole server as one function: Request → Response. No `Deno.*` here or below. */
export function createHandler(options: HandlerOptions): (req: Request) => Promise<Response> {
  const { rateCounter, ...given } = options;
  const { config, now } = options;
  const deps: Deps = {
    ...defined(given),
    locker: options.locker ?? new MemoryLocker(config.lockTimeoutMs),
    now: now ?? Date.now,
    shutdown: options.shutdown ?? new AbortController().signal,
    logError: options.logError ?? ((message, error) => console.error(message, error)),
    active: { count: 0 },
    metrics: options.metrics ?? new Metrics(),
    log: options.log ?? (() => {}),
    progress: options.progress ?? new Progress(),
    // Creations are counted only under `--rate-limit`.
    ...(config.rateLimit ? { rateCounter: rateCounter ?? new MemoryRateCounter(now) } : {}),
  };
  return async (req) => {
    const started = performance.now();
    const incoming = req.headers.get("x-request-id");
    const requestId = incoming && /^[A-Za-z0-9._:-]{1,128}$/.test(incoming)
      ? incoming
      : crypto.randomUUID();
    const meta: RequestMeta = { bytes: 0 };
    const dialect: Dialect = req.headers.has(H.tusResumable)
      ? "tus"
      : req.headers.has(H.uploadDraftInteropVersion)
      ? "ietf"
      : "plain";
    let method = req.method;
    let response: Response;
    try {
      method = methodOf(req);
      response = await route(req, method, dialect, deps, meta);
    } catch (error) {
      response = errorResponse(error, method, dialect, req, deps);
    }
    const headers = response.headers;
    headers.set(H.tusResumable, TUS_VERSION);
    headers.set("X-Request-ID", requestId);
    for (
      const [k, v] of Object.entries(
        corsHeaders(deps.config.corsOrigins, req.headers.get("origin")),
      )
    ) {
      headers.set(k, v);
    }
    return logWhenSent(response, { req, method, requestId, started, meta }, deps);
  };
}

/**
 * The effective method: `X-HTTP-Method-Override` replaces it (tus: the server MUST use it). A HEAD
 * turned into anything still gets no body: the edge never sends one to a HEAD.
 */
function methodOf(req: Request): string {
  const override = req.headers.get(H.methodOverride);
  if (override === null) return req.method;
  const method = override.trim().toUpperCase();
  if (!KNOWN_METHODS.has(method)) {
    throw new UploadError(
      400,
      "bad-method-override",
      `Unknown X-HTTP-Method-Override ${JSON.stringify(override.slice(0, 20))}`,
    );
  }
  return method;
}

async function route(
  req: Request,
  method: string,
  dialect: Dialect,
  deps: Deps,
  meta: RequestMeta,
): Promise<Response> {
  const url = new URL(req.url);
  const base = deps.config.basePath;
  const path = url.pathname;
  const operations = OPERATIONS[path];
  if (operations && (method === "GET" || method === "HEAD")) return await operations(deps);
  const page = ui(method, path, deps.config);
  if (page) return page;
  let routes: Record<string, Route>;
  let id: string | undefined;
  if (path === base || path === base + "/" || (base === "" && path === "/")) {
    routes = COLLECTION;
  } else if (path.startsWith(base + "/")) {
    const [first = "", sub, ...rest] = path.slice(base.length + 1).split("/");
    id = first;
    if (!isUploadId(id) || rest.length > 0 || (sub !== undefined && sub !== "status")) {
      throw new UploadError(404, "not-found", "No such upload");
    }
    routes = sub === "status" ? STATUS : UPLOAD;
    meta.uploadId = id;
  } else {
    throw new UploadError(
      404,
      "not-found",
      `Nothing at ${path.slice(0, 100)}; uploads live under ${base || "/"}`,
    );
  }
  if (method === "OPTIONS" && req.headers.has("access-control-request-method")) {
    return preflight(deps.config.corsOrigins, req.headers.get("origin"));
  }
  const tus = req.headers.get(H.tusResumable);
  if (tus !== null && tus !== TUS_VERSION && method !== "OPTIONS") {
    throw new UploadError(
      412,
      "unsupported-version",
      `Tus-Resumable ${tus.slice(0, 20)} is not supported; use ${TUS_VERSION}`,
      {
        headers: { [H.tusVersion]: TUS_VERSION },
      },
    );
  }
  const interop = req.headers.get(H.uploadDraftInteropVersion);
  const draft = dialect === "ietf" ? draftRules(interop) : undefined;
  if (dialect === "ietf" && !draft) throw unsupportedVersion(interop);
  const handler = routes[method];
  if (!handler) {
    throw new UploadError(405, "method-not-allowed", `${method} is not allowed here`, {
      headers: { Allow: Object.keys(routes).join(", ") },
    });
  }
  if (deps.shutdown.aborted && method !== "OPTIONS") {
    throw new UploadError(503, "shutting-down", "Server is shutting down; retry shortly", {
      headers: { "Retry-After": "5" },
    });
  }
  // OPTIONS (discovery, CORS) stays open; everything else needs a valid token when auth is on.
  const principal = method === "OPTIONS" ? undefined : await authenticate(req, deps);
  return await handler({
    req,
    url,
    method,
    dialect,
    ...defined({ draft, id, owner: principal?.owner, admin: principal?.admin }),
    deps,
    meta,
  });
}

/** An error as a response: text for tus clients, JSON for the plain dialect, nothing for HEAD. */
function errorResponse(
  error: unknown,
  method: string,
  dialect: Dialect,
  req: Request,
  deps: Deps,
): Response {
  const e = toUploadError(fromStore(error));
  // Server-side failures are logged with their cause (a full disk included); 503s (busy,
  // shutting down) are expected and say so to the client already.
  if (e.status >= 500 && e.status !== 503) {
    deps.logError(`${method} ${new URL(req.url).pathname} failed`, e.cause ?? error);
  }
  const headers = new Headers(e.headers);
  const head = method === "HEAD" || req.method === "HEAD";
  if (dialect === "ietf") {
    const res = problem(e, req, method, draftRules(req.headers.get(H.uploadDraftInteropVersion)));
    if (!head) return res;
    res.headers.delete("Content-Type");
    return new Response(null, { status: res.status, headers: res.headers });
  }
  if (head) return new Response(null, { status: e.status, headers });
  if (dialect === "plain") {
    headers.set("Content-Type", "application/json");
    return Response.json({ error: { code: e.code, message: e.message } }, {
      status: e.status,
      headers,
    });
  }
  headers.set("Content-Type", "text/plain; charset=utf-8");
  return new Response(e.message + "\n", { status: e.status, headers });
}
