import { parseArgs } from "node:util";
import { isAlgorithm } from "../lib/checksum.ts";
import { envVar } from "../lib/deno/env.ts";
import { UploadError } from "../lib/errors.ts";
import { draftRules, INTEROP_VERSIONS } from "../lib/ietf_versions.ts";
import { formatBytes, parseDuration, parseSize } from "../lib/units.ts";
import { caFetch } from "./ca_fetch.ts";
import { type Deadlines, DEFAULT_DEADLINES, seconds } from "./core/deadline.ts";
import { download } from "./download.ts";
import { defaultStateDir, FileResumeStore, finishedStore } from "./file_resume_store.ts";
import { type FileSource, openFileSource } from "./file_source.ts";
import { fingerprint } from "./fingerprint.ts";
import { generateFile } from "./generate.ts";
import { ProgressLine } from "./progress_line.ts";
import { say, warn } from "./terminal.ts";
import { DEFAULT_CHUNK_SIZE, upload, type UploadEvent, type UploadResult } from "./upload.ts";
import { describeStatus, fetchProgress, summarise } from "./core/upload_status.ts";

export const DEFAULT_ENDPOINT = "http://127.0.0.1:1080/files";

export const CLIENT_USAGE = `Usage: resumable client <command> [options]

Commands:
  upload FILE            upload FILE, resuming an earlier attempt from the server's offset
  generate FILE          write pseudo-random bytes (deterministic for a seed), streamed
  status FILE|URL        the server's offset, length and percent for an upload
  download URL OUT       download a completed upload, continuing a partial OUT, and verify it

upload options:
  --endpoint URL         upload endpoint (default ${DEFAULT_ENDPOINT}, or $RESUMABLE_ENDPOINT)
  --chunk-size SIZE      bytes per PATCH, e.g. 1MiB; "0" = the whole file in one PATCH
                         (default 8MiB)
  --retries N            attempts without progress before giving up (default 8); until the
                         server has answered once, a network failure gets 2 quick retries only
  --response-timeout T   no response head within T after sending a request: cut it, then
                         HEAD and resume (default ${seconds(DEFAULT_DEADLINES.responseMs)})
  --stall-timeout T      no upload progress (or no download bytes) for T: the same
                         (default ${seconds(DEFAULT_DEADLINES.stallMs)}); download takes both too
  --metadata KEY=VALUE   extra Upload-Metadata (repeatable; filename and filetype are set)
  --header "NAME: VALUE" extra request header (repeatable)
  --token TOKEN          bearer token for a server with --auth-secret (or $RESUMABLE_TOKEN;
                         status and download take it too)
  --ca FILE              also trust the PEM CA certificate(s) in FILE for https (a private
                         CA; status and download take it too)
  --state-dir DIR        where unfinished uploads are remembered
                         (default $XDG_STATE_HOME/resumable or ~/.local/state/resumable)
  --protocol P           tus (default), ietf (the IETF resumable-upload draft) or plain
  --ietf-version N       the draft's interop version with --protocol ietf: 3 to 8 (default 8)
  --checksum ALG         Upload-Checksum per PATCH: md5, sha1, sha256, none, or auto
                         (default: the fastest the server offers; sha1, then sha256, then md5)
  --parallel N           N partial uploads at once, then concatenated (tus concatenation;
                         falls back to one stream where the server lacks it)
  --crash-after F|random kill this process (SIGKILL) once fraction F is acknowledged;
                         random draws F in [0.5, 1) — for testing resume
  --no-progress          no progress bar (it is shown only on a terminal anyway)
  --json                 one JSON event per line on stdout
generate options:
  --size SIZE            how many bytes (required)
  --seed N               seed (default 0)

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 verification mismatch, 4 gave up after retries,
5 refused by the server, 6 file changed during the upload, 130 interrupted (Ctrl-C).`;

const EXIT: Record<string, number> = {
  usage: 2,
  "bad-command": 2,
  "digest-mismatch": 3,
  "gave-up": 4,
  rejected: 5,
  "file-changed": 6,
  aborted: 130,
};

/** Runs `client …`; returns the exit code. Errors become one line on stderr. */
export async function runClient(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "upload":
        return await uploadCommand(rest);
      case "generate":
        return await generateCommand(rest);
      case "status":
        return await statusCommand(rest);
      case "download":
        return await downloadCommand(rest);
      case "--help":
      case "-h":
      case "help":
        console.log(CLIENT_USAGE);
        return 0;
      default:
        throw new UploadError(
          0,
          "bad-command",
          command === undefined ? "Missing command" : `Unknown command ${JSON.stringify(command)}`,
        );
    }
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof UploadError) {
    warn(`error: ${error.message}`);
    if (error.code === "bad-command") console.error(`\n${CLIENT_USAGE}`);
    return EXIT[error.code] ?? 1;
  }
  if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE")) {
    console.error(`error: ${error.message}\n\n${CLIENT_USAGE}`);
    return 2;
  }
  if (error instanceof RangeError || error instanceof SyntaxError) {
    console.error(`error: ${error.message}`);
    return 2;
  }
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
    console.error(`error: ${error.message}`);
    return 2;
  }
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}

function usage(message: string): never {
  throw new UploadError(0, "usage", message);
}

function endpointOf(value: string | undefined): string {
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
function headersOf(values: string[] | undefined, token?: string): Record<string, string> {
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

async function uploadCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      endpoint: { type: "string" },
      "chunk-size": { type: "string" },
      retries: { type: "string", default: "8" },
      ...DEADLINE_FLAGS,
      metadata: { type: "string", multiple: true },
      header: { type: "string", multiple: true },
      token: { type: "string" },
      "state-dir": { type: "string" },
      "crash-after": { type: "string" },
      "no-progress": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      protocol: { type: "string", default: "tus" },
      "ietf-version": { type: "string" },
      checksum: { type: "string", default: "auto" },
      parallel: { type: "string", default: "1" },
      ca: { type: "string" },
    },
  });
  if (positionals.length !== 1) usage("upload takes exactly one FILE");
  const protocol = values.protocol;
  if (protocol !== "tus" && protocol !== "ietf" && protocol !== "plain") {
    usage(`Invalid --protocol ${JSON.stringify(protocol)}: expected tus, ietf or plain`);
  }
  const ietfVersion = values["ietf-version"];
  const draft = ietfVersion === undefined ? undefined : draftRules(ietfVersion);
  if (ietfVersion !== undefined && (!draft || protocol !== "ietf")) {
    usage(
      protocol === "ietf"
        ? `Invalid --ietf-version ${JSON.stringify(ietfVersion)}: expected ${
          INTEROP_VERSIONS.join(", ")
        }`
        : "--ietf-version needs --protocol ietf",
    );
  }
  const checksum = values.checksum;
  if (checksum !== "auto" && checksum !== "none" && !isAlgorithm(checksum)) {
    usage(`Invalid --checksum ${JSON.stringify(checksum)}: expected md5, sha1, sha256 or none`);
  }
  if (!/^\d{1,2}$/.test(values.parallel) || Number(values.parallel) < 1) {
    usage(`Invalid --parallel ${JSON.stringify(values.parallel)}: expected 1 to 99`);
  }
  const endpoint = endpointOf(values.endpoint);
  const chunkSize = values["chunk-size"] === undefined
    ? DEFAULT_CHUNK_SIZE
    : parseSize(values["chunk-size"]) || Infinity;
  if (!/^\d{1,3}$/.test(values.retries)) usage(`Invalid --retries ${values.retries}`);
  const crashAt = parseCrashAfter(values["crash-after"]);
  const fetchFn = values.ca === undefined ? undefined : await caFetch(values.ca);
  const metadata: Record<string, string> = {};
  for (const pair of values.metadata ?? []) {
    const i = pair.indexOf("=");
    if (i <= 0) usage(`Invalid --metadata ${JSON.stringify(pair)}: expected KEY=VALUE`);
    metadata[pair.slice(0, i)] = pair.slice(i + 1);
  }

  return await withFile(positionals[0]!, async (source) => {
    const name = source.path.slice(source.path.lastIndexOf("/") + 1);
    const stateDir = values["state-dir"] ?? defaultStateDir();
    const store = new FileResumeStore(stateDir);
    const fp = await fingerprint(source, { path: source.path, mtime: source.mtime, endpoint });
    const progress = values.json || values["no-progress"] || !Deno.stderr.isTerminal()
      ? undefined
      : new ProgressLine(source.size);
    let acknowledged = 0;
    const onEvent = (event: UploadEvent) => {
      if (event.type === "progress") acknowledged = event.acknowledged;
      progress?.event(event);
      if (values.json) console.log(JSON.stringify(event));
      else if (event.type !== "progress" && event.type !== "completed") {
        progress?.clear();
        warn(describe(event));
      }
      if (
        crashAt !== undefined && event.type === "progress" &&
        event.acknowledged >= crashAt * source.size
      ) {
        Deno.kill(Deno.pid, "SIGKILL"); // a crash, on purpose: no cleanup of any kind
      }
    };
    // Ctrl-C stops the transfer (the server keeps what it has) and says how to go on; a second
    // one exits at once.
    const interrupt = new AbortController();
    const onInterrupt = () =>
      interrupt.signal.aborted ? Deno.exit(EXIT.aborted) : interrupt.abort();
    Deno.addSignalListener("SIGINT", onInterrupt);
    let result: UploadResult;
    try {
      result = await upload(source, {
        endpoint,
        chunkSize,
        headers: headersOf(values.header, values.token),
        metadata: { filename: name, filetype: guessType(name), ...metadata },
        retry: { retries: Number(values.retries) },
        deadlines: deadlinesOf(values),
        protocol,
        ...(draft ? { ietfVersion: draft.version } : {}),
        checksum,
        parallel: Number(values.parallel),
        resume: { store, fingerprint: fp, path: source.path },
        signal: interrupt.signal,
        onEvent,
        ...(fetchFn ? { fetch: fetchFn } : {}),
      });
    } catch (error) {
      if (!interrupt.signal.aborted) throw error;
      progress?.stop();
      warn(
        `interrupted at ${formatBytes(acknowledged)} of ${formatBytes(source.size)}; ` +
          `run the same command to resume`,
      );
      return EXIT.aborted!;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      progress?.stop();
    }
    await finishedStore(stateDir).set(fp, {
      url: result.url,
      endpoint,
      size: result.size,
      createdAt: Date.now(),
      finishedAt: Date.now(),
      path: source.path,
    });
    if (!values.json) say(describeResult(result));
    return 0;
  });
}

/** The success lines: size, then the URL and each digest on a line of its own. */
function describeResult(result: UploadResult): string {
  const digests = `MD5 ${result.md5}`;
  return `uploaded ${formatBytes(result.size)}\nURL ${result.url}\n` +
    (result.verified === "digest"
      ? `${digests} matched\nSHA-256 ${result.sha256} matched`
      : `size matched; the server gave no digest to compare\n${digests} (not compared)`);
}

const DEADLINE_FLAGS = {
  "response-timeout": { type: "string" },
  "stall-timeout": { type: "string" },
} as const;

function deadlinesOf(
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

function parseCrashAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === "random") return 0.5 + Math.random() * 0.5;
  const f = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(f > 0 && f <= 1)) {
    usage(
      `Invalid --crash-after ${JSON.stringify(value)}: expected a fraction in (0, 1] or random`,
    );
  }
  return f;
}

function describe(event: Exclude<UploadEvent, { type: "progress" | "completed" }>): string {
  switch (event.type) {
    case "created":
      return `created ${part(event)}${event.url}`;
    case "resumed":
      return `resuming ${part(event)}${event.url} at ${
        formatBytes(event.offset)
      } (the server's offset)`;
    case "restarted":
      return `restarting ${part(event)}: ${event.reason}`;
    case "retry":
      return `retry ${event.attempt} ${part(event)}in ${
        (event.delayMs / 1000).toFixed(1)
      }s: ${event.reason}`;
    case "notice":
      return `note: ${event.message}`;
  }
}

function part(event: { part?: number }): string {
  return event.part === undefined ? "" : `part ${event.part + 1} `;
}

const TYPES: Record<string, string> = {
  txt: "text/plain",
  json: "application/json",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  mp4: "video/mp4",
  mov: "video/quicktime",
  mp3: "audio/mpeg",
  csv: "text/csv",
};

function guessType(name: string): string {
  const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
  return TYPES[ext] ?? "application/octet-stream";
}

async function generateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { size: { type: "string" }, seed: { type: "string", default: "0" } },
  });
  if (positionals.length !== 1) usage("generate takes exactly one FILE");
  if (values.size === undefined) usage("generate needs --size");
  if (!/^\d{1,15}$/.test(values.seed)) usage(`Invalid --seed ${values.seed}`);
  const size = parseSize(values.size);
  await generateFile(positionals[0]!, size, Number(values.seed));
  console.log(`wrote ${formatBytes(size)} to ${positionals[0]} (seed ${values.seed})`);
  return 0;
}

async function statusCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      endpoint: { type: "string" },
      "state-dir": { type: "string" },
      header: { type: "string", multiple: true },
      token: { type: "string" },
      json: { type: "boolean", default: false },
      ca: { type: "string" },
    },
  });
  if (positionals.length !== 1) usage("status takes exactly one FILE or URL");
  const target = positionals[0]!;
  const headers = headersOf(values.header, values.token);
  const fetchFn = values.ca === undefined ? fetch : await caFetch(values.ca);
  let urls = [target];
  if (!/^https?:\/\//.test(target)) {
    const endpoint = endpointOf(values.endpoint);
    const stateDir = values["state-dir"] ?? defaultStateDir();
    const [record, finished] = await withFile(target, async (source) => {
      const fp = await fingerprint(source, { path: source.path, mtime: source.mtime, endpoint });
      return [await new FileResumeStore(stateDir).get(fp), await finishedStore(stateDir).get(fp)];
    });
    if (!record && finished) {
      const when = finished.finishedAt ? `, on ${new Date(finished.finishedAt).toISOString()}` : "";
      if (values.json) {
        const { url, size: length, finishedAt } = finished;
        console.log(JSON.stringify({ url, length, state: "complete", finishedAt }));
      } else say(`finished: ${target} (${formatBytes(finished.size)})${when}\nURL ${finished.url}`);
      return 0;
    }
    if (!record) {
      warn(
        `no upload of ${target} to ${endpoint} is remembered (none unfinished, none finished); ` +
          `upload it with \`client upload ${target}\``,
      );
      return 1;
    }
    // A parallel upload before its final exists: the sum of its parts.
    urls = record.url ? [record.url] : (record.parts ?? []).filter((u) => u !== null);
  }
  const parts = [];
  for (const url of urls) parts.push(await fetchProgress(url, headers, fetchFn));
  const summary = summarise(urls, parts);
  if (values.json) console.log(JSON.stringify(summary));
  else say(describeStatus(summary));
  return 0;
}

/** Runs `fn` with FILE opened as a source (closed afterwards); a missing file is bad usage. */
async function withFile<T>(path: string, fn: (source: FileSource) => Promise<T>): Promise<T> {
  let source: FileSource;
  try {
    source = await openFileSource(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) usage(`File not found: ${path}`);
    throw error;
  }
  try {
    return await fn(source);
  } finally {
    source.close?.();
  }
}

async function downloadCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      header: { type: "string", multiple: true },
      retries: { type: "string" },
      token: { type: "string" },
      ...DEADLINE_FLAGS,
      ca: { type: "string" },
    },
  });
  if (positionals.length !== 2) usage("download takes a URL and an OUT file");
  const [url, out] = positionals as [string, string];
  if (!/^https?:\/\//.test(url)) usage(`Invalid URL ${JSON.stringify(url)}`);
  if (values.retries !== undefined && !/^\d{1,3}$/.test(values.retries)) {
    usage(`Invalid --retries ${values.retries}`);
  }
  const result = await download(url, out, {
    headers: headersOf(values.header, values.token),
    ...(values.ca === undefined ? {} : { fetch: await caFetch(values.ca) }),
    ...(values.retries ? { retry: { retries: Number(values.retries) } } : {}),
    deadlines: deadlinesOf(values),
  });
  say(
    `downloaded ${formatBytes(result.size)} to ${out}\n` +
      (result.verified === "digest"
        ? `MD5 ${result.md5} matched\nSHA-256 ${result.sha256} matched (the server's Repr-Digest)`
        : `no digest from the server; MD5 ${result.md5}`),
  );
  return 0;
}
