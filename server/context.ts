import { formatReprDigest } from "../lib/digest.ts";
import { UploadError } from "../lib/errors.ts";
import { decodeMetadata, type Metadata } from "../lib/metadata.ts";
import { H, parseHeaderInteger } from "../lib/protocol.ts";
import type { DraftRules } from "../lib/ietf_versions.ts";
import type { ServerConfig } from "./config.ts";
import type { Lock, Locker } from "./lock/locker.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Progress } from "./progress.ts";
import type { RateCounter } from "./rate_limit.ts";
import { HOOK_TYPE, hookEvent, type UploadEventName, type UploadEvents } from "./hooks/events.ts";
import { isComplete, type NewUpload, type UploadInfo, type UploadStore } from "./store/types.ts";

/** What the handlers share: the parts of the server, injected so tests can swap them. */
export interface Deps {
  config: ServerConfig;
  store: UploadStore;
  locker: Locker;
  /** Clock in milliseconds since the epoch. */
  now: () => number;
  /** Aborts when the server shuts down: in-flight bodies stop and keep what arrived. */
  shutdown: AbortSignal;
  /** Reports unexpected failures (500s) with their cause. */
  logError: (message: string, error: unknown) => void;
  /** The request's trailers once its body has ended; absent where the edge can't read them. */
  trailers?: (req: Request) => Promise<Headers>;
  /**
   * Sends an informational (1xx) response ahead of the final one; false where the edge can't (or
   * the response has begun). Absent where the edge has no way to.
   */
  informational?: (req: Request, status: number, headers: Record<string, string>) => boolean;
  /** Request bodies being written now (admission control). */
  active: { count: number };
  /** Bytes each owner holds, when a quota is set. */
  usage?: { of(owner: string): number };
  metrics: Metrics;
  /** Structured log lines (per request, and failures). */
  log: Logger;
  /** Whether the data directory is writable with `--min-free` bytes free (cached by the edge). */
  readiness?: () => Promise<Readiness>;
  /** Transfer rates per upload (status endpoint, listing). */
  progress: Progress;
  /** Hooks (`--hook-url`, `--on-finish`); absent when none are configured. */
  events?: UploadEvents;
  /** The address of the connection a request came on (rate limits, the log); absent where the
   * edge can't tell. */
  peer?: (req: Request) => string | undefined;
  /** Creations per owner or address, for `--rate-limit`. */
  rateCounter?: RateCounter;
}

export interface Readiness {
  ready: boolean;
  reason?: string;
  /** Not ready because a service is unreachable (503), not for lack of space (507). */
  unavailable?: boolean;
  freeBytes?: number;
}

/**
 * How the request speaks: "tus" with `Tus-Resumable`, "ietf" with `Upload-Draft-Interop-Version`
 * (the IETF draft), "plain" with neither.
 */
export type Dialect = "tus" | "ietf" | "plain";

/** One request, routed. */
export interface Context {
  req: Request;
  url: URL;
  method: string;
  dialect: Dialect;
  /** The draft's rules at the request's interop version (the "ietf" dialect only). */
  draft?: DraftRules;
  /** Set for `/files/{id}` routes; already validated. */
  id?: string;
  /** The authenticated `sub` (auth on); uploads of other owners don't exist for this request. */
  owner?: string;
  /** The token says `"admin": true`: status and listing show every owner's uploads. */
  admin?: boolean;
  deps: Deps;
  /** What the request log line reports: the upload concerned and the body bytes it stored. */
  meta: RequestMeta;
}

export interface RequestMeta {
  uploadId?: string;
  bytes: number;
  /** The client closed the connection before its request body ended (logged as 499). */
  clientClosed?: boolean;
}

/** A header parsed as a strict integer, or undefined when absent. */
export function integerHeader(req: Request, name: string): number | undefined {
  const value = req.headers.get(name);
  return value === null ? undefined : parseHeaderInteger(name, value);
}

/** When an unfinished upload expires, or undefined if it never does. */
export function expiresAt(deps: Pick<Deps, "config">, info: UploadInfo): number | undefined {
  // A final upload waits for its parts, which expire on their own; a tombstone has ended.
  if (
    deps.config.expireMs <= 0 || isComplete(info) || info.concat?.kind === "final" || info.ended
  ) {
    return undefined;
  }
  return info.updatedAt + deps.config.expireMs;
}

/**
 * The upload's record as this request may see it, tombstones included: undefined if unknown or
 * someone else's.
 */
export async function findRecord(ctx: Context, id: string): Promise<UploadInfo | undefined> {
  const info = await ctx.deps.store.get(id);
  return info && (ctx.owner === undefined || info.owner === ctx.owner) ? info : undefined;
}

/** The live upload as this request may see it: undefined if unknown, ended or someone else's. */
export async function findUpload(ctx: Context, id: string): Promise<UploadInfo | undefined> {
  const info = await findRecord(ctx, id);
  return info?.ended ? undefined : info;
}

/**
 * Takes the upload's lock — which asks an older request on it to stop — but only for a request
 * that may see the upload: a stranger's HEAD must not cut its owner's PATCH short (404 first).
 */
export async function lockUpload(ctx: Context, id: string): Promise<Lock> {
  if (ctx.owner !== undefined && !(await findRecord(ctx, id))) {
    throw new UploadError(404, "not-found", `Upload ${id} not found`);
  }
  return await ctx.deps.locker.acquire(id);
}

/**
 * The upload's info, or 404 (unknown, or another owner's: its existence is not revealed) / 410
 * (expired, not yet swept).
 */
export async function loadUpload(ctx: Context, id: string): Promise<UploadInfo> {
  const info = await findRecord(ctx, id);
  if (!info) throw new UploadError(404, "not-found", `Upload ${id} not found`);
  if (info.ended) {
    const when = new Date(info.ended.at).toISOString();
    throw new UploadError(410, info.ended.state, `Upload ${id} was ${info.ended.state} at ${when}`);
  }
  const expires = expiresAt(ctx.deps, info);
  if (expires !== undefined && expires <= ctx.deps.now()) {
    throw new UploadError(
      410,
      "expired",
      `Upload ${id} expired at ${new Date(expires).toISOString()}`,
    );
  }
  return info;
}

/** `Upload-Expires` when the upload can expire. */
export function expiryHeaders(deps: Deps, info: UploadInfo): Record<string, string> {
  const at = expiresAt(deps, info);
  return at === undefined ? {} : { [H.uploadExpires]: new Date(at).toUTCString() };
}

/** The media type of the request without parameters, lower-cased. */
export function mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The largest upload length acceptable, or Infinity. */
export function sizeLimit(deps: Deps): number {
  return deps.config.maxSize ?? Number.MAX_SAFE_INTEGER;
}

/** The URL of an upload as clients should see it (absolute; proxy-aware when configured). */
export function uploadUrl(ctx: Context, id: string): string {
  return `${collectionUrl(ctx)}/${id}`;
}

/** The URL of the upload collection (`/files`) as clients should see it. */
export function collectionUrl(ctx: Context): string {
  return `${publicOrigin(ctx)}${ctx.deps.config.basePath}`;
}

const HOST = /^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

function publicOrigin(ctx: Context): string {
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

/**
 * `Repr-Digest` for a complete upload, recording its digests first if that hasn't happened yet
 * (the caller holds the lock, or the upload is complete and so no longer written).
 */
export async function digestHeaders(
  ctx: Context,
  info: UploadInfo,
): Promise<Record<string, string>> {
  if (!isComplete(info)) return {};
  const digests = info.digests ?? await ctx.deps.store.finish(info.id);
  info.digests = digests;
  return { [H.reprDigest]: formatReprDigest(digests) };
}

/**
 * An upload was created, completed, terminated or expired: counted in the metrics and, with hooks
 * on, handed to them (resolving once the event is queued on disk). The one call at each such place,
 * so metrics and hooks can't disagree. Never rejects: the upload has already changed.
 */
export async function uploadEvent(
  deps: Pick<Deps, "metrics" | "events" | "store" | "now">,
  event: UploadEventName,
  info: UploadInfo,
  url?: string,
): Promise<void> {
  deps.metrics.uploads.add(1, { event });
  // Unfinished uploads: every created one ends at most once (completed, terminated unfinished,
  // or expired), so these steps keep the gauge exact between sweeps, which recount it.
  if (event === "created") deps.metrics.activeUploads.add(1);
  else if (event !== "terminated" || !isComplete(info)) deps.metrics.activeUploads.add(-1);
  if (!deps.events) return;
  const storage = deps.store.location?.(info.id);
  await deps.events.emit(hookEvent(HOOK_TYPE[event], info, {
    now: deps.now(),
    ...(url === undefined ? {} : { url }),
    ...(storage === undefined ? {} : { storage }),
  }));
}

/**
 * The `pre-create` hook, with hooks on: the upload about to be created is shown to the receivers,
 * and a refusal is thrown as the `UploadError` the client gets.
 */
export async function preCreateHook(ctx: Context, upload: NewUpload): Promise<void> {
  const { events, now } = ctx.deps;
  if (!events) return;
  const info: UploadInfo = { ...upload, offset: 0, updatedAt: upload.createdAt };
  await events.preCreate(
    hookEvent("pre-create", info, { now: now(), url: uploadUrl(ctx, upload.id) }),
  );
}

/** An upload's metadata, decoded (validated at creation, so this never fails; {} if it did). */
export function storedMetadata(info: UploadInfo): Metadata {
  try {
    return decodeMetadata(info.metadata);
  } catch {
    return {};
  }
}
