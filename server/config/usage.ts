/**
 * `resumable server --help` and the flags table of docs/server.md, both rendered from the flag
 * definitions in flags.ts, so the help, the docs and the parser can't disagree.
 */
import { COMMAND_OPTIONS, SERVER_OPTIONS } from "./flags.ts";
import { envName, type OptionSpec } from "./config_sources.ts";
import { defined } from "../../lib/defined.ts";

/** One flag as documented. */
interface FlagDoc {
  /** `--port PORT`, `-h, --help`. */
  usage: string;
  name: string;
  /** `RESUMABLE_PORT`; none for flags that steer the command. */
  env?: string;
  /** The default as typed on the command line; none when there is none (or a switch is off). */
  default?: string;
  help: string;
}

/**
 * The markers in docs/server.md between which `deno task docs` writes the table; `deno fmt` leaves
 * what is between them as generated.
 */
const TABLE_START =
  "<!-- deno-fmt-ignore-start --><!-- flags: `deno task docs` writes this table -->";
const TABLE_END = "<!-- deno-fmt-ignore-end -->";

const WIDTH = 88;
const FLAG_COLUMN = 24;

function flagDocs(): FlagDoc[] {
  const settings = Object.entries<OptionSpec>(SERVER_OPTIONS).map(([name, spec]) => ({
    ...describe(name, spec),
    env: envName(name),
  }));
  const commands = Object.entries<OptionSpec & { short?: string }>(COMMAND_OPTIONS).map((
    [name, spec],
  ) => describe(name, spec));
  return [...settings, ...commands];
}

function describe(name: string, spec: OptionSpec & { short?: string }): FlagDoc {
  const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}`;
  const value = typeof spec.default === "string" && spec.default !== "" ? spec.default : undefined;
  return {
    usage: spec.arg ? `${flag} ${spec.arg}` : flag,
    name,
    ...defined({ default: value }),
    help: spec.help,
  };
}

/** `resumable server --help`. */
export const SERVER_USAGE: string = [
  "Usage: resumable server [options]",
  "",
  "Options:",
  ...flagDocs().flatMap(usageLines),
  "",
  "Every setting can also come from an environment variable, RESUMABLE_ and the flag in upper",
  'snake case (RESUMABLE_MAX_SIZE=10GiB, RESUMABLE_NO_UI=true, RESUMABLE_HOOK_URL="URL URL").',
  "Precedence: flag, then environment, then --config file, then default.",
  "Sizes take B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; durations ms, s, m, h, d.",
  "Once ready it prints one line: listening on http://HOST:PORT/files (https with --tls-cert)",
].join("\n");

/** A flag's lines in the usage text: the flag, then its help wrapped beside it. */
function usageLines(doc: FlagDoc): string[] {
  const text = doc.help + (doc.default === undefined ? "" : ` (default ${doc.default})`);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && FLAG_COLUMN + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  const head = `  ${doc.usage}`;
  const first = head.length + 2 <= FLAG_COLUMN
    ? [head.padEnd(FLAG_COLUMN) + lines.shift()]
    : [head];
  return [...first, ...lines.map((l) => " ".repeat(FLAG_COLUMN) + l)];
}

/** The flags table of docs/server.md (Markdown), markers included. */
export function flagsTable(): string {
  // Markdown would read `<HS256 JWT>` as a tag and `image/*` as emphasis.
  const cell = (text: string) =>
    text.replace(/[|*_<>\\]/g, (c) => c === "<" ? "&lt;" : c === ">" ? "&gt;" : `\\${c}`);
  const rows = flagDocs().map((doc) =>
    `| \`${doc.usage}\` | ${doc.env ? `\`${doc.env}\`` : ""} | ${
      doc.default === undefined ? "" : `\`${doc.default}\``
    } | ${cell(doc.help)} |`
  );
  return [
    TABLE_START,
    "",
    "| Flag | Environment variable | Default | What it does |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
    TABLE_END,
  ].join("\n");
}

/** `markdown` with the text between the table markers replaced by the current table. */
export function withFlagsTable(markdown: string): string {
  const start = markdown.indexOf(TABLE_START);
  const end = markdown.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    throw new RangeError(`No flags table markers (${TABLE_START} … ${TABLE_END}) found`);
  }
  return markdown.slice(0, start) + flagsTable() + markdown.slice(end + TABLE_END.length);
}
