/** The flags several commands share, parsed: endpoint, request headers and deadlines. */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { envVar } from "../../lib/deno/env.ts";
import { UploadError } from "../../lib/errors.ts";
import { closest } from "../../lib/suggest.ts";
import { parseDuration } from "../../lib/units.ts";
import { type Deadlines, DEFAULT_DEADLINES } from "../core/deadline.ts";

export const DEFAULT_ENDPOINT = "http://127.0.0.1:1080/files";

/** A command's `args`, parsed against its `options`; it checks how many positionals it got. */
export function parseCommand<const T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, allowPositionals: true, options });
  } catch (error) {
    throw flagError(error, Object.keys(options));
  }
}

/** A parse error as one plain line: which flag, what was wrong, the closest known flag. */
function flagError(error: unknown, known: string[]): unknown {
  const code = (error as { code?: string }).code ?? "";
  if (!code.startsWith("ERR_PARSE_ARGS")) return error;
  const flag = /'(-{1,2}[^' ]*)/.exec((error as Error).message)?.[1] ?? "";
  const name = flag.replace(/^-+/, "");
  const see = "(client --help lists them)";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const near = closest(name, known);
    return new UploadError(
      0,
      "usage",
      `unknown flag ${flag}${near ? `: did you mean --${near}?` : ` ${see}`}`,
    );
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return new UploadError(0, "usage", `${flag || "a flag"} needs a value`);
  }
  return new UploadError(0, "usage", (error as Error).message.split(". ")[0]!);
}

/** Bad usage: exit code 2, the message on stderr. */
export function usage(message: string): never {
  throw new UploadError(0, "usage", message);
}

export function endpointOf(value: string | undefined): string {
  const endpoint = value ?? envVar("RESUMABLE_ENDPOINT") ?? DEFAULT_ENDPOINT;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
    return url.href.replace(/\/$/, "");
  } catch {
    usage(`Invalid --endpoint ${JSON.stringify(endpoint)}: expected an http(s) URL`);
  }
}

/** Extra request headers: `--header` values, and the bearer token from `--token`/RESUMABLE_TOKEN. */
export function headersOf(values: string[] | undefined, token?: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const bearer = token ?? envVar("RESUMABLE_TOKEN");
  if (bearer) headers["Authorization"] = `Bearer ${bearer.trim()}`;
  for (const h of values ?? []) {
    const i = h.indexOf(":");
    if (i <= 0) usage(`Invalid --header ${JSON.stringify(h)}: expected "Name: value"`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return headers;
}

/** The flags of every command that asks the server: extra headers, the token, a private CA. */
export const REQUEST_FLAGS = {
  header: { type: "string", multiple: true },
  token: { type: "string" },
  ca: { type: "string" },
} as const;

export const DEADLINE_FLAGS = {
  "response-timeout": { type: "string" },
  "stall-timeout": { type: "string" },
} as const;

export function deadlinesOf(
  values: { "response-timeout"?: string | undefined; "stall-timeout"?: string | undefined },
): Deadlines {
  const flag = (name: "response-timeout" | "stall-timeout", fallback: number) => {
    const text = values[name];
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (!(ms > 0)) usage(`Invalid --${name} ${JSON.stringify(text)}: expected more than 0 s`);
    return ms;
  };
  return {
    responseMs: flag("response-timeout", DEFAULT_DEADLINES.responseMs),
    stallMs: flag("stall-timeout", DEFAULT_DEADLINES.stallMs),
  };
}
