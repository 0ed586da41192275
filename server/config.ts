import { parseArgs } from "node:util";
import { parseDuration, parseSize } from "../lib/units.ts";

/** Everything the server is told at start. Pure data; `parseServerArgs` builds it from flags. */
export interface ServerConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Data directory. */
  dir: string;
  /** URL path of the upload collection, without a trailing slash (e.g. "/files"). */
  basePath: string;
  /** Largest upload accepted, in bytes; undefined = no limit. */
  maxSize?: number;
  /** An unfinished upload expires this long after its last write; 0 = never. */
  expireMs: number;
  /** Trust `Forwarded` / `X-Forwarded-*` for the URLs the server hands out. */
  behindProxy: boolean;
  /** Origins allowed by CORS; ["*"] = any, [] = CORS off. */
  corsOrigins: string[];
  /** How long a request waits for an older request on the same upload to let go (then 423). */
  lockTimeoutMs: number;
  /** How often expired uploads are swept. */
  sweepIntervalMs: number;
  /** At most this many request bodies written at once; the next gets 503 + Retry-After. */
  maxActive: number;
  /** A request body (or a connection's headers) silent this long is cut. */
  idleTimeoutMs: number;
  /** Bytes per second a body must average over each idle-timeout window (0: only silence). */
  minRate: number;
  /** Media-type patterns uploads must sniff as (e.g. "image/*"); undefined = any. */
  allowTypes?: string[];
  /** Most bytes one owner may hold (declared lengths, or bytes stored while deferred). */
  quota?: number;
  /** HS256 secret: requests need a bearer JWT whose `sub` owns what it creates. */
  authSecret?: string;
  /** Below this many free bytes in --dir the server is not ready and refuses new uploads. */
  minFree: number;
  logFormat: "json" | "text";
  logLevel: "debug" | "info" | "warn" | "error";
  /** Serve the upload page at `/` (off with --no-ui). */
  ui: boolean;
  /** Webhook receivers for upload events (post-create, post-finish, …, and pre-create). */
  hookUrls: string[];
  /** A command run with each post-finish event as JSON on stdin. */
  onFinish?: string;
  /** How long one hook delivery (or --on-finish run) may take. */
  hookTimeoutMs: number;
  /** Most undelivered hook events queued on disk; past it the oldest are dropped (and counted). */
  hookQueueMax: number;
  /** Where bytes live: the local filesystem, or an S3-compatible object store. */
  store: "file" | "s3";
  s3Endpoint?: string;
  s3Bucket?: string;
  s3Region: string;
  /** S3 multipart part size in bytes (≥ 5 MiB). */
  s3PartSize: number;
  /** PostgreSQL URL for shared upload info and locks (several instances); undefined = embedded. */
  db?: string;
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 1080,
  dir: "./uploads",
  basePath: "/files",
  expire: "24h",
  corsOrigins: "*",
  maxActive: 10,
  idleTimeout: "30s",
  minRate: "1KiB",
  minFree: "1GiB",
  hookTimeout: "10s",
  hookQueueMax: 10_000,
  store: "file",
  s3Region: "us-east-1",
  s3PartSize: "8MiB",
} as const;

export const SERVER_USAGE = `Usage: resumable server [options]

Options:
  --host HOST           address to listen on (default ${DEFAULTS.host})
  --port PORT           port to listen on; 0 picks a free one (default ${DEFAULTS.port})
  --dir DIR             data directory (default ${DEFAULTS.dir})
  --base-path PATH      URL path of the upload endpoint (default ${DEFAULTS.basePath})
  --max-size SIZE       largest upload accepted, e.g. 10GiB (default: no limit)
  --expire DURATION     unfinished uploads expire this long after their last write;
                        0 = never (default ${DEFAULTS.expire})
  --behind-proxy        trust Forwarded / X-Forwarded-Proto / X-Forwarded-Host
  --cors-origins LIST   comma-separated origins allowed by CORS, * = any,
                        none = CORS off (default *)
  --max-active N        request bodies written at once; more get 503 + Retry-After
                        (default ${DEFAULTS.maxActive})
  --idle-timeout DUR    cut a request body (or headers) silent this long; bytes
                        received are kept (default ${DEFAULTS.idleTimeout})
  --min-rate SIZE       bytes per second a body must average over each idle-timeout
                        window, so a slow drip can't hold a slot (default ${DEFAULTS.minRate})
  --allow-types LIST    only uploads whose first bytes sniff as one of these media
                        types, e.g. image/*,application/pdf (default: any)
  --quota SIZE          most bytes one owner may hold (default: no limit)
  --auth-secret SECRET  require Authorization: Bearer <HS256 JWT>; its sub owns what
                        it creates (or set RESUMABLE_AUTH_SECRET)
  --min-free SIZE       below this free space in --dir, /readyz says 503 and new
                        uploads get 507 (default ${DEFAULTS.minFree})
  --log-format FORMAT   json (one object per line on stderr) or text (default json)
  --log-level LEVEL     debug, info, warn or error (default info)
  --no-ui               don't serve the upload page at /
  --hook-url URL        POST upload events (pre-create, post-create, post-finish,
                        post-terminate, post-expire) as JSON to URL; repeatable
  --on-finish CMD       run CMD (no shell) with each finished upload's event as
                        JSON on stdin
  --hook-timeout DUR    time one hook delivery or --on-finish run may take
                        (default ${DEFAULTS.hookTimeout})
  --hook-queue-max N    most undelivered events kept on disk (default ${DEFAULTS.hookQueueMax})
  --store KIND          file or s3 (default ${DEFAULTS.store})
  --s3-endpoint URL     S3-compatible endpoint (with --store s3)
  --s3-bucket NAME      bucket (with --store s3)
  --s3-region REGION    region (default ${DEFAULTS.s3Region})
  --s3-part-size SIZE   multipart part size, at least 5MiB (default ${DEFAULTS.s3PartSize})
  --db URL              postgres://… for shared upload info and locks across instances
  -h, --help            show this help

Sizes take B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; durations ms, s, m, h, d.
Once ready it prints one line: listening on http://HOST:PORT/files`;

/**
 * Parses `server` flags (and `RESUMABLE_AUTH_SECRET` from `env`). Throws TypeError (unknown flag)
 * or RangeError (bad value).
 */
export function parseServerArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): ServerConfig | "help" {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      host: { type: "string", default: DEFAULTS.host },
      port: { type: "string", default: String(DEFAULTS.port) },
      dir: { type: "string", default: DEFAULTS.dir },
      "base-path": { type: "string", default: DEFAULTS.basePath },
      "max-size": { type: "string" },
      expire: { type: "string", default: DEFAULTS.expire },
      "behind-proxy": { type: "boolean", default: false },
      "cors-origins": { type: "string", default: DEFAULTS.corsOrigins },
      "max-active": { type: "string", default: String(DEFAULTS.maxActive) },
      "idle-timeout": { type: "string", default: DEFAULTS.idleTimeout },
      "min-rate": { type: "string", default: DEFAULTS.minRate },
      "allow-types": { type: "string" },
      quota: { type: "string" },
      "auth-secret": { type: "string" },
      "min-free": { type: "string", default: DEFAULTS.minFree },
      "log-format": { type: "string", default: "json" },
      "log-level": { type: "string", default: "info" },
      "no-ui": { type: "boolean", default: false },
      "hook-url": { type: "string", multiple: true, default: [] },
      "on-finish": { type: "string" },
      "hook-timeout": { type: "string", default: DEFAULTS.hookTimeout },
      "hook-queue-max": { type: "string", default: String(DEFAULTS.hookQueueMax) },
      store: { type: "string", default: DEFAULTS.store },
      "s3-endpoint": { type: "string" },
      "s3-bucket": { type: "string" },
      "s3-region": { type: "string", default: DEFAULTS.s3Region },
      "s3-part-size": { type: "string", default: DEFAULTS.s3PartSize },
      db: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (positionals.length > 0) {
    throw new TypeError(`Unexpected argument ${JSON.stringify(positionals[0])}`);
  }
  const port = Number(values.port);
  if (!/^\d{1,5}$/.test(values.port) || port > 65535) {
    throw new RangeError(`Invalid --port ${JSON.stringify(values.port)}: expected 0 to 65535`);
  }
  const basePath = "/" + values["base-path"].replace(/^\/+|\/+$/g, "");
  if (!/^\/[A-Za-z0-9._~\-\/]*$/.test(basePath) || basePath.includes("//")) {
    throw new RangeError(`Invalid --base-path ${JSON.stringify(values["base-path"])}`);
  }
  if (values.dir.trim() === "") throw new RangeError("Invalid --dir: empty");
  const expireMs = parseDuration(values.expire);
  const cors = values["cors-origins"].trim();
  const config: ServerConfig = {
    host: values.host,
    port,
    dir: values.dir,
    basePath: basePath === "/" ? "" : basePath,
    expireMs,
    behindProxy: values["behind-proxy"],
    corsOrigins: cors === "none" ? [] : cors.split(",").map((o) => o.trim()).filter(Boolean),
    lockTimeoutMs: 10_000,
    // Every --expire/4 (1 s to 10 min); without expiry, hourly, for leftovers only.
    sweepIntervalMs: expireMs > 0 ? Math.min(Math.max(expireMs / 4, 1000), 10 * 60_000) : 3_600_000,
    maxActive: positive("--max-active", values["max-active"]),
    idleTimeoutMs: parseDuration(values["idle-timeout"]),
    minRate: parseSize(values["min-rate"]),
    minFree: parseSize(values["min-free"]),
    logFormat: oneOf("--log-format", values["log-format"], ["json", "text"] as const),
    logLevel: oneOf(
      "--log-level",
      values["log-level"],
      ["debug", "info", "warn", "error"] as const,
    ),
    ui: !values["no-ui"],
    hookUrls: values["hook-url"].map((u) => httpUrl("--hook-url", u)),
    hookTimeoutMs: parseDuration(values["hook-timeout"]),
    hookQueueMax: positive("--hook-queue-max", values["hook-queue-max"]),
    store: oneOf("--store", values.store, ["file", "s3"] as const),
    s3Region: values["s3-region"],
    s3PartSize: parseSize(values["s3-part-size"]),
  };
  if (config.hookTimeoutMs <= 0) throw new RangeError("--hook-timeout must be more than 0");
  if (values["on-finish"] !== undefined) {
    if (values["on-finish"].trim() === "") throw new RangeError("Invalid --on-finish: empty");
    config.onFinish = values["on-finish"];
  }
  if (config.s3PartSize < 5 * 1024 * 1024) {
    throw new RangeError("--s3-part-size must be at least 5MiB (the S3 minimum part size)");
  }
  if (values["s3-endpoint"] !== undefined) {
    config.s3Endpoint = httpUrl("--s3-endpoint", values["s3-endpoint"]);
  }
  if (values["s3-bucket"] !== undefined) config.s3Bucket = values["s3-bucket"];
  if (config.store === "s3" && (!config.s3Endpoint || !config.s3Bucket)) {
    throw new RangeError("--store s3 needs --s3-endpoint and --s3-bucket");
  }
  if (values.db !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(values.db)) {
      throw new RangeError("Invalid --db: expected a postgres:// URL");
    }
    config.db = values.db;
  }
  if (config.idleTimeoutMs <= 0) throw new RangeError("--idle-timeout must be more than 0");
  if (values["max-size"] !== undefined) config.maxSize = parseSize(values["max-size"]);
  if (values.quota !== undefined) config.quota = parseSize(values.quota);
  if (values["allow-types"] !== undefined) {
    const types = values["allow-types"].split(",").map((t) => t.trim().toLowerCase()).filter(
      Boolean,
    );
    for (const t of types) {
      if (!/^[a-z0-9.+-]+\/(\*|[a-z0-9.+-]+)$/.test(t)) {
        throw new RangeError(
          `Invalid --allow-types entry ${JSON.stringify(t)}: expected type/subtype`,
        );
      }
    }
    config.allowTypes = types;
  }
  const secret = values["auth-secret"] ?? env["RESUMABLE_AUTH_SECRET"];
  if (secret !== undefined) {
    if (secret.length < 16) throw new RangeError("The auth secret must be at least 16 characters");
    config.authSecret = secret;
  }
  return config;
}

/** A config with defaults, for tests and embedding. */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const config = parseServerArgs([]);
  if (config === "help") throw new Error("unreachable");
  return { ...config, ...overrides };
}

function httpUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`Invalid ${flag} ${JSON.stringify(value)}: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`Invalid ${flag} ${JSON.stringify(value)}: expected http(s)://`);
  }
  return value;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d{1,6}$/.test(value) || n < 1) {
    throw new RangeError(`Invalid ${flag} ${JSON.stringify(value)}: expected a whole number ≥ 1`);
  }
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new RangeError(
      `Invalid ${flag} ${JSON.stringify(value)}: expected ${allowed.join(", ")}`,
    );
  }
  return value as T;
}
