import { UploadError } from "../../../lib/errors.ts";
import type { Context } from "../context.ts";
import { expiresAt } from "../expiry.ts";
import { collectionUrl } from "../urls.ts";
import { stateOf } from "../state.ts";
import { UPLOAD_STATES, type UploadListing, type UploadState } from "../../../lib/upload_status.ts";
import type { UploadInfo } from "../../store/types.ts";
import { describe } from "./status.ts";

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

/**
 * GET /files?state=…&limit=…&cursor=…: uploads, newest first, a page at a time. With auth on, an
 * owner sees their own and a token with `"admin": true` sees all. Without auth, upload URLs are
 * the only secret, so listing them is allowed only on a loopback-only server (not behind a proxy).
 */
export async function list(ctx: Context): Promise<Response> {
  if (ctx.deps.config.authSecret === undefined) assertLocalCaller(ctx);
  const query = parseQuery(ctx.url.searchParams);
  const now = ctx.deps.now();
  const everyone = ctx.owner === undefined || ctx.admin === true;
  const matches: { info: UploadInfo; state: UploadState }[] = [];
  for await (const id of ctx.deps.store.list()) {
    const info = await ctx.deps.store.get(id).catch(() => undefined);
    if (!info || (!everyone && info.owner !== ctx.owner)) continue;
    if (query.after && !follows(info, query.after)) continue;
    const state = stateOf(info, now, expiresAt(ctx.deps, info));
    if (query.states && !query.states.has(state)) continue;
    matches.push({ info, state });
  }
  matches.sort((a, b) => order(a.info, b.info));
  const page = matches.slice(0, query.limit);
  const last = page.at(-1)?.info;
  const next = matches.length > query.limit && last ? cursorOf(last) : null;
  const uploads: UploadListing["uploads"] = [];
  for (const { info } of page) uploads.push(await describe(ctx, info, { parts: false }));
  const headers = new Headers({ "Cache-Control": "no-store" });
  if (next) {
    const url = new URL(collectionUrl(ctx));
    for (const [k, v] of ctx.url.searchParams) if (k !== "cursor") url.searchParams.set(k, v);
    url.searchParams.set("cursor", next);
    headers.set("Link", `<${url}>; rel="next"`);
  }
  const listing: UploadListing = { uploads, nextCursor: next };
  return Response.json(listing, { headers });
}

/**
 * Without auth, only a local program may list: the server listens on loopback only (and is not
 * behind a proxy), and the request names a loopback host, carries no `Origin` (a web page of any
 * site could otherwise read the list: CORS is open by default) and came through no proxy. A
 * DNS-rebound name or a browser is refused.
 */
function assertLocalCaller(ctx: Context): void {
  const { config } = ctx.deps;
  const h = ctx.req.headers;
  const local = LOOPBACK.has(config.host) && !config.behindProxy &&
    LOOPBACK.has(ctx.url.hostname) && !h.has("origin") && !h.has("forwarded") &&
    !h.has("x-forwarded-for") && !h.has("x-forwarded-host") && !h.has("via") &&
    !h.has("x-real-ip");
  if (!local) {
    throw new UploadError(
      403,
      "listing-off",
      "Listing uploads needs --auth-secret, except for a local program on a loopback-only server",
    );
  }
}

interface Query {
  states?: Set<UploadState>;
  limit: number;
  /** Only uploads after this one in the order (newest first). */
  after?: { createdAt: number; id: string };
}

function parseQuery(params: URLSearchParams): Query {
  for (const key of params.keys()) {
    if (key !== "state" && key !== "limit" && key !== "cursor") {
      throw new UploadError(400, "bad-query", `Unknown query parameter ${JSON.stringify(key)}`);
    }
  }
  const query: Query = { limit: DEFAULT_LIMIT };
  if (params.getAll("state").length > 1 || params.getAll("limit").length > 1) {
    throw new UploadError(400, "bad-query", "Give state and limit once (state takes a list: a,b)");
  }
  const state = params.get("state");
  if (state !== null) {
    const states = state.split(",").map((s) => s.trim()).filter(Boolean);
    if (states.length === 0) throw new UploadError(400, "bad-state", "state is empty");
    for (const s of states) {
      if (!(UPLOAD_STATES as readonly string[]).includes(s)) {
        throw new UploadError(
          400,
          "bad-state",
          `Unknown state ${JSON.stringify(s.slice(0, 20))}; expected ${UPLOAD_STATES.join(", ")}`,
        );
      }
    }
    query.states = new Set(states as UploadState[]);
  }
  const limit = params.get("limit");
  if (limit !== null) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) {
      throw new UploadError(400, "bad-limit", `limit must be 1 to ${MAX_LIMIT}`);
    }
    query.limit = Number(limit);
  }
  const cursor = params.get("cursor");
  if (cursor !== null) query.after = parseCursor(cursor);
  return query;
}

/** Newest first; equal times by id, so the order is total and pages never skip or repeat. */
function order(a: UploadInfo, b: UploadInfo): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** True when `info` comes after the cursor's upload in the listing order. */
function follows(info: UploadInfo, cursor: { createdAt: number; id: string }): boolean {
  return order({ ...info, ...cursor }, info) < 0;
}

function cursorOf(info: UploadInfo): string {
  return btoa(`${info.createdAt}:${info.id}`).replace(/=+$/, "");
}

function parseCursor(cursor: string): { createdAt: number; id: string } {
  let text = "";
  try {
    text = atob(cursor);
  } catch {
    // falls through to the error below
  }
  const match = /^(\d{1,16}):([A-Za-z0-9_-]{1,128})$/.exec(text);
  if (!match) throw new UploadError(400, "bad-cursor", "cursor is not one this server handed out");
  return { createdAt: Number(match[1]), id: match[2]! };
}
