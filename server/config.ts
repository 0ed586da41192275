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
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 1080,
  dir: "./uploads",
  basePath: "/files",
  expire: "24h",
  corsOrigins: "*",
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
  -h, --help            show this help

Sizes take B, KB, MB, GB, KiB, MiB, GiB; durations s, m, h, d.
Once ready it prints one line: listening on http://HOST:PORT/files`;

/** Parses `server` flags. Throws TypeError (unknown flag) or RangeError (bad value). */
export function parseServerArgs(args: string[]): ServerConfig | "help" {
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
    sweepIntervalMs: Math.min(Math.max(expireMs / 4, 1000), 10 * 60_000),
  };
  if (values["max-size"] !== undefined) config.maxSize = parseSize(values["max-size"]);
  return config;
}

/** A config with defaults, for tests and embedding. */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const config = parseServerArgs([]);
  if (config === "help") throw new Error("unreachable");
  return { ...config, ...overrides };
}
