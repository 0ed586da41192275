import { parseArgs } from "node:util";
import { parseDuration, parseSize } from "../../lib/units.ts";
import { splitCommand } from "../hooks/command_line.ts";
import {
  checkSetting,
  type ConfigFile,
  envName,
  layerSettings,
  type OptionSpec,
  parseConfigFile,
  type RawValue,
  type Setting,
} from "./config_sources.ts";
import { argsError, COMMAND_OPTIONS, SERVER_OPTIONS } from "./flags.ts";

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
  /** Bytes per second a body must average over any idle-timeout span (0: only silence). */
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
  /** Key prefix of this deployment's objects in the bucket ("" = the whole bucket is ours). */
  s3Prefix: string;
  s3Region: string;
  /** S3 multipart part size in bytes (≥ 5 MiB). */
  s3PartSize: number;
  /** PostgreSQL URL for shared upload info and locks (several instances); undefined = embedded. */
  db?: string;
  /** PEM certificate (chain) and private key files: serve https (TLS 1.2+); reloaded on SIGHUP. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** At most `count` upload creations per owner (or client address) in any `periodMs`. */
  rateLimit?: RateLimit;
}

/** `--rate-limit N/PERIOD`. */
export interface RateLimit {
  count: number;
  periodMs: number;
}

type ServerOptions = typeof SERVER_OPTIONS;
type OptionName = keyof ServerOptions;
/** A flag's value after layering: a switch, a list, a string, or (no default) maybe absent. */
type OptionValue<O> = O extends { type: "boolean" } ? boolean
  : O extends { multiple: true } ? string[]
  : O extends { default: string } ? string
  : string | undefined;
type OptionValues = { -readonly [K in OptionName]: OptionValue<ServerOptions[K]> };

/** The environment variables the server reads, one per flag (`RESUMABLE_MAX_SIZE`, …). */
export const SERVER_ENV_VARS: readonly string[] = Object.keys(SERVER_OPTIONS).map(envName);

/** What `resumable server …` asks for: help, or a config to run with or to print. */
export type ServerCommand =
  | { action: "help" }
  | {
    action: "run" | "print";
    config: ServerConfig;
    /** Per flag, where its value came from: `flag --port`, `env RESUMABLE_PORT`, `file c.json`… */
    sources: Record<string, string>;
    /** Per flag, its value as given (`"24h"`, not milliseconds): what a `--config` file holds. */
    values: Record<string, RawValue | undefined>;
  };

/** Reads a `--config` file's text (main.ts: Deno.readTextFileSync). */
export type ReadConfigFile = (path: string) => string;

/**
 * Parses `server` flags, with `RESUMABLE_<FLAG>` variables from `env` and a `--config` file read
 * through `readFile` under them (flag > env > file > default). Throws TypeError (unknown flag) or
 * RangeError (bad value, naming where it came from).
 */
export function parseServerArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
  readFile?: ReadConfigFile,
): ServerConfig | "help" {
  const command = resolveServerCommand(args, env, readFile);
  return command.action === "help" ? "help" : command.config;
}

/** Like `parseServerArgs`; also says whether to print the config and where each value came from. */
export function resolveServerCommand(
  args: string[],
  env: Record<string, string | undefined> = {},
  readFile: ReadConfigFile = () => {
    throw new Error("no file reader given");
  },
): ServerCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        ...flagShapes(SERVER_OPTIONS),
        config: { type: "string" },
        "print-config": { type: "boolean" },
        help: { type: "boolean", short: COMMAND_OPTIONS.help.short },
      },
    });
  } catch (error) {
    throw argsError(error);
  }
  const { values: flags, positionals } = parsed;
  if (flags.help) return { action: "help" };
  if (positionals.length > 0) {
    throw new TypeError(
      `unexpected argument ${JSON.stringify(positionals[0])}: the server takes only flags ` +
        "(see resumable server --help)",
    );
  }
  let file: ConfigFile | undefined;
  const path = flags.config;
  if (typeof path === "string") {
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new RangeError(`Cannot read --config ${JSON.stringify(path)}: ${message}`);
    }
    file = parseConfigFile(path, text, SERVER_OPTIONS);
  }
  const settings = layerSettings(SERVER_OPTIONS, flags, env, file);
  const values = Object.fromEntries(
    Object.entries<Setting>(settings).map(([name, s]) => [name, s.value]),
  ) as OptionValues;
  /** Validates one flag's (present) value; an error names where the value came from. */
  const at = <K extends OptionName, T>(
    name: K,
    parse: (value: NonNullable<OptionValues[K]>) => T,
  ): T => checkSetting(settings[name], () => parse(values[name] as NonNullable<OptionValues[K]>));

  const port = at("port", (v) => {
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
      throw new RangeError(`Invalid port ${JSON.stringify(v)}: expected 0 to 65535`);
    }
    return Number(v);
  });
  const basePath = at("base-path", (v) => {
    const path = "/" + v.replace(/^\/+|\/+$/g, "");
    if (!/^\/[A-Za-z0-9._~\-\/]*$/.test(path) || path.includes("//")) {
      throw new RangeError(`Invalid path ${JSON.stringify(v)}`);
    }
    return path;
  });
  at("dir", (v) => {
    if (v.trim() === "") throw new RangeError("Invalid directory: empty");
  });
  const expireMs = at("expire", parseDuration);
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
    maxActive: at("max-active", positive),
    idleTimeoutMs: at("idle-timeout", (v) => moreThanZero(parseDuration(v))),
    minRate: at("min-rate", parseSize),
    minFree: at("min-free", parseSize),
    logFormat: at("log-format", (v) => oneOf(v, ["json", "text"] as const)),
    logLevel: at("log-level", (v) => oneOf(v, ["debug", "info", "warn", "error"] as const)),
    ui: !values["no-ui"],
    hookUrls: at("hook-url", (urls) => urls.map(httpUrl)),
    hookTimeoutMs: at("hook-timeout", (v) => moreThanZero(parseDuration(v))),
    hookQueueMax: at("hook-queue-max", positive),
    store: at("store", (v) => oneOf(v, ["file", "s3"] as const)),
    s3Region: values["s3-region"],
    s3Prefix: values["s3-prefix"],
    s3PartSize: at("s3-part-size", (v) => {
      const size = parseSize(v);
      if (size < 5 * 1024 * 1024) {
        throw new RangeError("Part size must be at least 5MiB (the S3 minimum part size)");
      }
      return size;
    }),
  };
  if (values["on-finish"] !== undefined) {
    config.onFinish = at("on-finish", (v) => {
      if (v.trim() === "") throw new RangeError("Invalid command: empty");
      splitCommand(v); // unbalanced quotes are refused now, not at the first finished upload
      return v;
    });
  }
  if (values["s3-endpoint"] !== undefined) config.s3Endpoint = at("s3-endpoint", httpUrl);
  if (values["s3-bucket"] !== undefined) config.s3Bucket = values["s3-bucket"];
  if (!/^([A-Za-z0-9!_.*'()-]+\/)*$/.test(config.s3Prefix)) {
    throw new RangeError(
      `Invalid --s3-prefix ${JSON.stringify(config.s3Prefix)}: safe characters, ending with /`,
    );
  }
  if (config.store === "s3" && (!config.s3Endpoint || !config.s3Bucket)) {
    throw new RangeError(
      `store s3 (${settings.store.from}) needs --s3-endpoint and --s3-bucket (or their ` +
        `RESUMABLE_ variables or config keys)`,
    );
  }
  if (values.db !== undefined) {
    config.db = at("db", (v) => {
      if (!/^postgres(ql)?:\/\//.test(v)) throw new RangeError("Expected a postgres:// URL");
      return v;
    });
  }
  // Upload info lives beside the bytes for the file store; in object storage it lives in the db.
  if (config.store === "s3" && config.db === undefined) {
    throw new RangeError(
      `store s3 (${settings.store.from}) needs --db postgres://… for upload info and locks`,
    );
  }
  if (values["tls-cert"] !== undefined) config.tlsCertFile = at("tls-cert", nonEmpty);
  if (values["tls-key"] !== undefined) config.tlsKeyFile = at("tls-key", nonEmpty);
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    const [given, missing] = config.tlsCertFile === undefined
      ? ["tls-key", "tls-cert"] as const
      : ["tls-cert", "tls-key"] as const;
    throw new RangeError(`${settings[given].from} needs --${missing} too`);
  }
  if (values["rate-limit"] !== undefined) config.rateLimit = at("rate-limit", parseRateLimit);
  if (values["max-size"] !== undefined) config.maxSize = at("max-size", parseSize);
  if (values.quota !== undefined) config.quota = at("quota", parseSize);
  if (values["allow-types"] !== undefined) {
    config.allowTypes = at("allow-types", (v) => {
      const types = v.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
      for (const t of types) {
        if (!/^[a-z0-9.+-]+\/(\*|[a-z0-9.+-]+)$/.test(t)) {
          throw new RangeError(`Invalid entry ${JSON.stringify(t)}: expected type/subtype`);
        }
      }
      return types;
    });
  }
  if (values["auth-secret"] !== undefined) {
    config.authSecret = at("auth-secret", (v) => {
      if (v.length < 16) throw new RangeError("The auth secret must be at least 16 characters");
      return v;
    });
  }
  const sources = Object.fromEntries(
    Object.entries<Setting>(settings).map(([name, s]) => [name, s.from]),
  );
  return { action: flags["print-config"] ? "print" : "run", config, sources, values };
}

/** A config with defaults, for tests and embedding. */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const config = parseServerArgs([]);
  if (config === "help") throw new Error("unreachable");
  return { ...config, ...overrides };
}

/** parseArgs options for the flags: type (and repeatable), nothing else; defaults come last. */
function flagShapes(
  specs: Readonly<Record<string, OptionSpec>>,
): Record<string, { type: "string" | "boolean"; multiple?: boolean }> {
  return Object.fromEntries(
    Object.entries(specs).map((
      [name, spec],
    ) => [name, spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type }]),
  );
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`Invalid URL ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`Invalid URL ${JSON.stringify(value)}: expected http(s)://`);
  }
  return value;
}

function nonEmpty(value: string): string {
  if (value.trim() === "") throw new RangeError("Invalid file name: empty");
  return value;
}

/** `N/PERIOD`: a whole number ≥ 1 and a duration (`100/1h`, `5/30s`). */
export function parseRateLimit(value: string): RateLimit {
  const m = /^\s*(\d{1,9})\s*\/\s*(\S+)\s*$/.exec(value);
  if (!m || Number(m[1]) < 1) {
    throw new RangeError(
      `Invalid rate limit ${JSON.stringify(value)}: expected N/PERIOD, e.g. 100/1h`,
    );
  }
  return { count: Number(m[1]), periodMs: moreThanZero(parseDuration(m[2]!)) };
}

function positive(value: string): number {
  const n = Number(value);
  if (!/^\d{1,6}$/.test(value) || n < 1) {
    throw new RangeError(`Invalid number ${JSON.stringify(value)}: expected a whole number ≥ 1`);
  }
  return n;
}

function moreThanZero(ms: number): number {
  if (ms <= 0) throw new RangeError("Must be more than 0");
  return ms;
}

function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`Invalid value ${JSON.stringify(value)}: expected ${allowed.join(", ")}`);
  }
  return value as T;
}
