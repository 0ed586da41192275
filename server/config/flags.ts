/**
 * The server's flags, in one place: each flag's parseArgs shape and default, what the environment
 * and a `--config` file may give for it (config_sources.ts), and its line in `--help` and in
 * docs/server.md (both rendered from here by usage.ts). config.ts validates the values.
 */
import { closest } from "../../lib/suggest.ts";
import type { OptionSpec } from "./config_sources.ts";

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

/** Every server setting's flag (the environment variable is `RESUMABLE_<FLAG>`). */
export const SERVER_OPTIONS = {
  host: { type: "string", default: DEFAULTS.host, arg: "HOST", help: "address to listen on" },
  port: {
    type: "string",
    default: String(DEFAULTS.port),
    numeric: true,
    arg: "PORT",
    help: "port to listen on; 0 picks a free one",
  },
  dir: { type: "string", default: DEFAULTS.dir, arg: "DIR", help: "data directory" },
  "base-path": {
    type: "string",
    default: DEFAULTS.basePath,
    arg: "PATH",
    help: "URL path of the upload endpoint",
  },
  "max-size": {
    type: "string",
    numeric: true,
    arg: "SIZE",
    help: "largest upload accepted, e.g. 10GiB (default: no limit)",
  },
  expire: {
    type: "string",
    default: DEFAULTS.expire,
    numeric: true,
    arg: "DURATION",
    help: "unfinished uploads expire this long after their last write; 0 = never",
  },
  "behind-proxy": {
    type: "boolean",
    default: false,
    help: "trust Forwarded and X-Forwarded-* for the URLs handed out and the client address logged",
  },
  "cors-origins": {
    type: "string",
    default: DEFAULTS.corsOrigins,
    list: true,
    arg: "LIST",
    help: "comma-separated origins allowed by CORS, * = any, none = CORS off",
  },
  "max-active": {
    type: "string",
    default: String(DEFAULTS.maxActive),
    numeric: true,
    arg: "N",
    help: "request bodies written at once; more get 503 + Retry-After",
  },
  "idle-timeout": {
    type: "string",
    default: DEFAULTS.idleTimeout,
    numeric: true,
    arg: "DUR",
    help: "cut a request body (or headers) silent this long; bytes received are kept",
  },
  "min-rate": {
    type: "string",
    default: DEFAULTS.minRate,
    numeric: true,
    arg: "SIZE",
    help: "bytes per second a body must average over each idle-timeout window, " +
      "so a slow drip can't hold a slot",
  },
  "allow-types": {
    type: "string",
    list: true,
    arg: "LIST",
    help: "only uploads whose first bytes sniff as one of these media types, " +
      "e.g. image/*,application/pdf (default: any)",
  },
  quota: {
    type: "string",
    numeric: true,
    arg: "SIZE",
    help: "most bytes one owner may hold (default: no limit)",
  },
  "auth-secret": {
    type: "string",
    secret: true,
    arg: "SECRET",
    help: "require Authorization: Bearer <HS256 JWT> (at least 16 characters); " +
      "its sub owns what it creates",
  },
  "min-free": {
    type: "string",
    default: DEFAULTS.minFree,
    numeric: true,
    arg: "SIZE",
    help: "below this free space in --dir, /readyz says 503 and new uploads get 507",
  },
  "log-format": {
    type: "string",
    default: "json",
    arg: "FORMAT",
    help: "json (one object per line on stderr) or text",
  },
  "log-level": {
    type: "string",
    default: "info",
    arg: "LEVEL",
    help: "debug, info, warn or error",
  },
  "no-ui": { type: "boolean", default: false, help: "don't serve the upload page at /" },
  "hook-url": {
    type: "string",
    multiple: true,
    default: [],
    arg: "URL",
    help: "POST upload events (pre-create, post-create, post-finish, post-terminate, " +
      "post-expire) as JSON to URL; repeatable",
  },
  "on-finish": {
    type: "string",
    arg: "CMD",
    help: "run CMD (no shell) with each finished upload's event as JSON on stdin",
  },
  "hook-timeout": {
    type: "string",
    default: DEFAULTS.hookTimeout,
    numeric: true,
    arg: "DUR",
    help: "time one hook delivery or --on-finish run may take",
  },
  "hook-queue-max": {
    type: "string",
    default: String(DEFAULTS.hookQueueMax),
    numeric: true,
    arg: "N",
    help: "most undelivered hook events kept on disk; past it the oldest are dropped",
  },
  store: { type: "string", default: DEFAULTS.store, arg: "KIND", help: "file or s3" },
  "s3-endpoint": {
    type: "string",
    arg: "URL",
    help: "S3-compatible endpoint (with --store s3)",
  },
  "s3-bucket": { type: "string", arg: "NAME", help: "bucket (with --store s3)" },
  "s3-prefix": {
    type: "string",
    default: "",
    arg: "PREFIX",
    help: "key prefix, so deployments can share a bucket (default: none; " +
      "the bucket, or the prefix, must belong to this deployment only)",
  },
  "s3-region": { type: "string", default: DEFAULTS.s3Region, arg: "REGION", help: "region" },
  "s3-part-size": {
    type: "string",
    default: DEFAULTS.s3PartSize,
    numeric: true,
    arg: "SIZE",
    help: "multipart part size, at least 5MiB",
  },
  db: {
    type: "string",
    secret: true,
    arg: "URL",
    help: "postgres://… for shared upload info and locks across instances",
  },
  "tls-cert": {
    type: "string",
    arg: "FILE",
    help: "serve https with this PEM certificate (chain); needs --tls-key; both are read " +
      "again on SIGHUP (default: plain http)",
  },
  "tls-key": { type: "string", arg: "FILE", help: "the PEM private key of --tls-cert" },
  "rate-limit": {
    type: "string",
    arg: "N/PERIOD",
    help: "at most N upload creations per PERIOD (e.g. 100/1h) per owner, or per client " +
      "address without --auth-secret; more get 429 + Retry-After; counted in --db when given " +
      "(default: no limit)",
  },
} as const satisfies Record<string, OptionSpec>;

/** Flags that steer the command rather than set something: no variable, no config file key. */
export const COMMAND_OPTIONS = {
  config: {
    type: "string",
    arg: "FILE",
    help: 'read settings from a JSON file of flag names: {"max-size": "10GiB", "port": 8080}',
  },
  "print-config": {
    type: "boolean",
    help: "print the effective settings as a --config file (secrets left out), and on " +
      "stderr where each came from; then exit",
  },
  help: { type: "boolean", short: "h", help: "show this help" },
} as const satisfies Record<string, Omit<OptionSpec, "default"> & { short?: string }>;

/**
 * A parseArgs error as one plain line that says what to do: the closest flag for a typo, how to
 * give a value. A TypeError (bad usage); the message ends by pointing at --help.
 */
export function argsError(error: unknown): TypeError {
  const { code, message } = error as { code?: string; message?: string };
  const flag = /'(-{1,2}[^' <]*)/.exec(message ?? "")?.[1];
  const help = "(see resumable server --help)";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) {
    const names = [...Object.keys(SERVER_OPTIONS), ...Object.keys(COMMAND_OPTIONS)];
    const guess = closest(flag.replace(/^-+/, "").split("=")[0]!, names);
    return new TypeError(
      `unknown flag ${flag}${guess ? `: did you mean --${guess}?` : ""} ${help}`,
    );
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    const name = flag.replace(/^-+/, "");
    const spec: OptionSpec | undefined = (SERVER_OPTIONS as Record<string, OptionSpec>)[name] ??
      (COMMAND_OPTIONS as Record<string, OptionSpec>)[name];
    if (spec?.type === "boolean") {
      return new TypeError(`${flag} is a switch and takes no value ${help}`);
    }
    return new TypeError(
      `${flag} needs a value: ${flag} ${spec?.arg ?? "VALUE"} (a value starting with - goes ` +
        `as ${flag}=VALUE) ${help}`,
    );
  }
  return new TypeError(`${(message ?? String(error)).split(/[.\n]/)[0]} ${help}`);
}
