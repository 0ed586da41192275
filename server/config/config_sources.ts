/**
 * Layered server settings. Every flag can also come from an environment variable (`--max-size` →
 * `RESUMABLE_MAX_SIZE`) or from a JSON `--config` file whose keys are the flag names
 * (`{"max-size": "10GiB", "port": 8080, "hook-url": ["http://…"], "no-ui": true}`).
 * Precedence: flag > env > file > default. Pure: the caller hands in the environment and the file's
 * text; what comes out is raw flag values (strings, booleans, string lists) for validation, each with
 * where it came from so an error can say so (`RESUMABLE_PORT=abc: …`, `cfg.json: "port": …`).
 */
import { closest } from "../../lib/suggest.ts";

export type Source = "flag" | "env" | "file" | "default";

/** How one flag is written, and what else the environment and a config file may give for it. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** What `--help` and docs/server.md say the flag does; "(default …)" is added from `default`. */
  help: string;
  /** The value's placeholder in `--help` (`--port PORT`); a switch has none. */
  arg?: string;
  /** Repeatable (`--hook-url`): the env var is a comma/whitespace-separated list, the file an array. */
  multiple?: boolean;
  default?: string | boolean | readonly string[];
  /** The file may give a JSON number (sizes, durations, counts). */
  numeric?: boolean;
  /** A comma-separated list: the file may give an array of strings (joined with ","). */
  list?: boolean;
  /** Never echoed in error messages (and redacted by --print-config). */
  secret?: boolean;
}

export type RawValue = string | boolean | string[];

/** One setting after layering. */
export interface Setting {
  value: RawValue | undefined;
  source: Source;
  /** Where the value came from, for errors: `--port`, `RESUMABLE_PORT=abc`, `cfg.json: "port"`. */
  origin: string;
  /** Where the value came from, for --print-config: `flag --port`, `env RESUMABLE_PORT`, … */
  from: string;
}

/** A parsed `--config` file: its path (as given) and its top-level object. */
export interface ConfigFile {
  path: string;
  values: Record<string, unknown>;
}

/** The environment variable for a flag: `max-size` → `RESUMABLE_MAX_SIZE`. */
export function envName(option: string): string {
  return "RESUMABLE_" + option.toUpperCase().replaceAll("-", "_");
}

/** Parses a config file's text: a JSON object whose keys are flag names. Throws RangeError. */
export function parseConfigFile(
  path: string,
  text: string,
  specs: Readonly<Record<string, OptionSpec>>,
): ConfigFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new RangeError(`${path}: Invalid JSON: ${messageOf(error)}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new RangeError(`${path}: Expected a JSON object of flag names and values`);
  }
  for (const key of Object.keys(data)) {
    if (!Object.hasOwn(specs, key)) {
      const guess = closest(key, Object.keys(specs));
      throw new RangeError(
        `${path}: Unknown key ${JSON.stringify(key)}` +
          (guess ? `; did you mean ${JSON.stringify(guess)}?` : "") +
          ` (keys are server flag names without the dashes, e.g. "max-size")`,
      );
    }
  }
  return { path, values: data as Record<string, unknown> };
}

/**
 * Picks each setting from the first source that has it: `flags` (parseArgs values; absent flags
 * undefined, an unused repeatable flag []), then `env`, then `file`, then the spec's default.
 * Throws RangeError (naming the source) for a value of the wrong shape, e.g. a non-boolean switch.
 */
export function layerSettings<K extends string>(
  specs: Readonly<Record<K, OptionSpec>>,
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  file?: ConfigFile,
): Record<K, Setting> {
  const settings = {} as Record<K, Setting>;
  for (const name of Object.keys(specs) as K[]) {
    const spec: OptionSpec = specs[name];
    const flag = flags[name];
    const variable = envName(name);
    const raw = env[variable];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) {
      settings[name] = {
        value: flag as RawValue,
        source: "flag",
        origin: `--${name}`,
        from: `flag --${name}`,
      };
    } else if (raw !== undefined) {
      const origin = spec.secret ? variable : `${variable}=${raw}`;
      settings[name] = {
        value: fromEnv(spec, raw, origin),
        source: "env",
        origin,
        from: `env ${variable}`,
      };
    } else if (file && Object.hasOwn(file.values, name)) {
      const origin = `${file.path}: ${JSON.stringify(name)}`;
      settings[name] = {
        value: fromFile(spec, file.values[name], origin),
        source: "file",
        origin,
        from: `file ${file.path}`,
      };
    } else {
      const value = spec.default;
      settings[name] = {
        value: Array.isArray(value) ? [...value] : value as string | boolean | undefined,
        source: "default",
        origin: `--${name}`,
        from: "default",
      };
    }
  }
  return settings;
}

/**
 * Runs `parse` on a setting's value; an error from it is rethrown as a RangeError that starts with
 * where the value came from (`RESUMABLE_PORT=abc: Invalid port "abc": …`).
 */
export function checkSetting<T>(setting: Setting, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new RangeError(`${setting.origin}: ${messageOf(error)}`);
  }
}

function fromEnv(spec: OptionSpec, raw: string, origin: string): RawValue {
  if (spec.type === "boolean") return parseSwitch(raw, origin);
  if (spec.multiple) return raw.split(/[\s,]+/).filter(Boolean);
  return raw;
}

function fromFile(spec: OptionSpec, value: unknown, origin: string): RawValue {
  const strings = Array.isArray(value) && value.every((v) => typeof v === "string");
  if (spec.type === "boolean") {
    if (typeof value === "boolean") return value;
    if (typeof value === "string") return parseSwitch(value, origin);
  } else if (spec.multiple) {
    if (typeof value === "string") return [value];
    if (strings) return value as string[];
  } else {
    if (typeof value === "string") return value;
    if (spec.numeric && typeof value === "number" && Number.isFinite(value)) return String(value);
    if (spec.list && strings) return (value as string[]).join(",");
  }
  const expected = spec.type === "boolean"
    ? "true or false"
    : spec.multiple || spec.list
    ? "a string or an array of strings"
    : spec.numeric
    ? "a string or a number"
    : "a string";
  const shown = spec.secret ? typeof value : JSON.stringify(value);
  throw new RangeError(`${origin}: Expected ${expected}, got ${shown}`);
}

function parseSwitch(raw: string, origin: string): boolean {
  const text = raw.trim().toLowerCase();
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new RangeError(`${origin}: Expected true, false, 1 or 0`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
