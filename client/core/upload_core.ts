/**
 * The upload core: create or resume, PATCH chunk by chunk from the server's offset, retry with
 * backoff, optionally in N parallel parts (tus concatenation), and verify the whole file against
 * the server's digests. It runs unchanged in Deno and in a browser: it uses only `fetch`, range
 * reads and timers, and the hashing comes in as `options.hashing` (`client/upload.ts` gives
 * Deno's, node:crypto on a worker; the web page gives a Web Worker with a JS SHA-256 and MD5).
 */
import { defined } from "../../lib/defined.ts";
import type { ChecksumAlgorithm } from "../../lib/checksum_header.ts";
import { base64ToHex, type Digests } from "../../lib/digest_header.ts";
import { UploadError } from "../../lib/errors.ts";
import { DEFAULT_DEADLINES } from "./deadline.ts";
import { discover, type Link } from "./link.ts";
import {
  type Dialect,
  dialectOf,
  fastestChecksum,
  noFeatures,
  type ServerFeatures,
} from "./protocol.ts";
import type { ResumeRecord } from "./resume_store.ts";
import { Contact, DEFAULT_RETRY } from "./retry.ts";
import type { UploadSource } from "./source.ts";
import { type Settings, Transfer, type TransferResult } from "./transfer.ts";
import type { UploadEvent, UploadResult } from "./upload_events.ts";
import {
  DEFAULT_CHECKSUM,
  DEFAULT_CHUNK_SIZE,
  type Hashing,
  type UploadOptions,
} from "./upload_options.ts";
import { uploadParts } from "./upload_parts.ts";

export type { UploadEvent, UploadResult, Verified } from "./upload_events.ts";
export {
  DEFAULT_CHECKSUM,
  DEFAULT_CHUNK_SIZE,
  type Hashing,
  type InformationalFetch,
  type ProgressFetch,
  type UploadOptions,
} from "./upload_options.ts";

/** Uploads `source`; resolves once the server holds it and it is verified. */
export async function upload(
  source: UploadSource,
  options: UploadOptions & { hashing: Hashing },
): Promise<UploadResult> {
  const dialect = dialectOf(options.protocol ?? "tus", options.ietfVersion);
  // Called as `settings.fetch(…)`: a browser's own fetch must not be, so it is wrapped.
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const emit = (event: UploadEvent) => options.onEvent?.(event);
  const wantsFeatures = dialect.name === "tus" &&
    ((options.parallel ?? 1) > 1 || (options.checksum ?? DEFAULT_CHECKSUM) !== "none");
  const link: Link = {
    endpoint: options.endpoint,
    ...defined({
      headers: options.headers,
      signal: options.signal,
      sleep: options.sleep,
      informationalFetch: options.informationalFetch,
      progressFetch: options.progressFetch,
    }),
    dialect,
    fetch: fetchFn,
    emit,
    policy: { ...DEFAULT_RETRY, ...options.retry },
    deadlines: { ...DEFAULT_DEADLINES, ...options.deadlines },
    contact: new Contact(),
  };
  const features = wantsFeatures ? await discover(link) : noFeatures();
  const checksum = options.hashing.checksum
    ? chooseChecksum(options, dialect, features, emit)
    : undefined;
  let parallel = Math.max(1, Math.floor(options.parallel ?? 1));
  if (parallel > 1 && !(dialect.name === "tus" && features.extensions.has("concatenation"))) {
    const why = dialect.name === "tus"
      ? "The server offers no concatenation"
      : `Parallel parts need tus concatenation, not the ${dialect.name} dialect`;
    emit({ type: "notice", message: `${why}: uploading in one stream instead of ${parallel}` });
    parallel = 1;
  }
  parallel = Math.min(parallel, Math.max(1, source.size));
  const settings: Settings = {
    ...options,
    ...link,
    hashing: options.hashing,
    chunk: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    ...(checksum ? { checksumAlgorithm: checksum } : {}),
  };
  if (!(settings.chunk > 0)) throw new RangeError("chunkSize must be positive");
  const resume = options.resume;
  const previous = resume ? await resume.store.get(resume.fingerprint) : undefined;
  const remembered = previous?.size === source.size ? previous : undefined;
  const save = serialised(async (record: ResumeRecord) => {
    if (resume) await resume.store.set(resume.fingerprint, record);
  });
  const record: ResumeRecord = {
    url: remembered?.url ?? "",
    endpoint: options.endpoint,
    size: source.size,
    createdAt: remembered?.createdAt ?? Date.now(),
    ...defined({ path: resume?.path, parts: remembered?.parts }),
  };

  let outcome: Required<TransferResult>;
  if (parallel > 1 || record.parts) {
    outcome = await uploadParts(source, settings, record, save, parallel);
  } else {
    const transfer = new Transfer(source, settings, {
      ...(record.url ? { url: record.url } : {}),
      onCreated: (url) => save({ ...record, url }),
    });
    const done = await transfer.run();
    outcome = { url: done.url, local: done.local!, server: done.server };
  }

  const { url, local, server } = outcome;
  const mismatch = (["md5", "sha256"] as const).some((k) =>
    server[k] !== undefined && server[k] !== local[k]
  );
  // Success or a proven mismatch: either way the next run must not resume this upload.
  if (resume) await resume.store.delete(resume.fingerprint);
  if (mismatch) {
    throw new UploadError(
      0,
      "digest-mismatch",
      `Verification failed for ${url}: local ${showDigests(local)}; server ${showDigests(server)}`,
    );
  }
  const result: UploadResult = {
    url,
    size: source.size,
    md5: base64ToHex(local.md5),
    sha256: base64ToHex(local.sha256),
    verified: server.md5 !== undefined || server.sha256 !== undefined ? "digest" : "size",
  };
  emit({ type: "completed", ...result });
  return result;
}

/** "md5 <hex>, sha256 <hex>" ("?" where unknown), as both sides' digests are printed. */
export function showDigests(d: Partial<Digests>): string {
  return `md5 ${d.md5 ? base64ToHex(d.md5) : "?"}, sha256 ${
    d.sha256 ? base64ToHex(d.sha256) : "?"
  }`;
}

function chooseChecksum(
  options: UploadOptions,
  dialect: Dialect,
  features: ServerFeatures,
  emit: (event: UploadEvent) => void,
): ChecksumAlgorithm | undefined {
  const wanted = options.checksum ?? DEFAULT_CHECKSUM;
  if (wanted === "none" || dialect.name !== "tus") return undefined;
  if (wanted === "auto") return fastestChecksum(features.checksums);
  if (!features.checksums.includes(wanted)) {
    emit({ type: "notice", message: `The server offers no ${wanted} checksum: sending none` });
    return undefined;
  }
  return wanted;
}

/** Runs calls one after another (resume-record writes from concurrent parts). */
function serialised<T>(fn: (value: T) => Promise<void>): (value: T) => Promise<void> {
  let last = Promise.resolve();
  return (value) => (last = last.then(() => fn(value), () => fn(value)));
}
