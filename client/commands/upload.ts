/** `client upload FILE`: uploads FILE, resuming an earlier attempt from the server's offset. */
import { isAlgorithm } from "../../lib/checksum_header.ts";
import { draftRules, INTEROP_VERSIONS } from "../../lib/ietf_versions.ts";
import { formatBytes, parseSize } from "../../lib/units.ts";
import { caFetch } from "../ca_fetch.ts";
import { defaultStateDir, FileResumeStore, finishedStore } from "../file_resume_store.ts";
import { fingerprint } from "../fingerprint.ts";
import { ProgressLine } from "../progress_line.ts";
import { say, warn } from "../terminal.ts";
import {
  DEFAULT_CHECKSUM,
  DEFAULT_CHUNK_SIZE,
  upload,
  type UploadEvent,
  type UploadResult,
} from "../upload.ts";
import { describe } from "./event_line.ts";
import { EXIT } from "./exit_codes.ts";
import {
  DEADLINE_FLAGS,
  deadlinesOf,
  endpointOf,
  headersOf,
  parseCommand,
  REQUEST_FLAGS,
  usage,
} from "./flags.ts";
import { guessType } from "./mime_type.ts";
import { withFile } from "./with_file.ts";

export async function uploadCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    ...REQUEST_FLAGS,
    endpoint: { type: "string" },
    "chunk-size": { type: "string" },
    retries: { type: "string", default: "8" },
    ...DEADLINE_FLAGS,
    metadata: { type: "string", multiple: true },
    "state-dir": { type: "string" },
    "crash-after": { type: "string" },
    "no-progress": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    protocol: { type: "string", default: "tus" },
    "ietf-version": { type: "string" },
    checksum: { type: "string", default: DEFAULT_CHECKSUM },
    parallel: { type: "string", default: "1" },
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
