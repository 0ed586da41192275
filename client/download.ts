import { base64ToHex, DigestState, parseReprDigest } from "../lib/deno/digest.ts";
import { UploadError } from "../lib/errors.ts";
import { H } from "../lib/protocol.ts";
import { type Deadlines, DEFAULT_DEADLINES, seconds, Watchdog } from "./core/deadline.ts";
import { networkWords } from "./core/network_error.ts";
import { backoffMs, Contact, DEFAULT_RETRY, type RetryPolicy } from "./core/retry.ts";
import { explainRefusal } from "./core/refusal.ts";
import { showDigests } from "./upload.ts";

export interface DownloadOptions {
  headers?: Record<string, string>;
  retry?: Partial<RetryPolicy>;
  /** A response head within `responseMs`, then body bytes at least every `stallMs`. */
  deadlines?: Partial<Deadlines>;
  signal?: AbortSignal;
  onProgress?: (received: number, total: number | undefined) => void;
  /** The fetch to use (e.g. one trusting a private CA); default the global one. */
  fetch?: typeof fetch;
}

export interface DownloadResult {
  size: number;
  md5: string;
  sha256: string;
  verified: "digest" | "size";
}

/**
 * Downloads `url` into `out`, continuing a partial file with `Range` (and `If-Range` so a changed
 * upload restarts from zero), retrying network failures, and verifying `Repr-Digest` at the end.
 */
export async function download(
  url: string,
  out: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  try {
    return await downloadOnce(url, out, options);
  } catch (error) {
    if (!(error instanceof ResumedMismatch)) throw error;
    // The partial OUT we continued held other bytes: start over from zero, once.
    await Deno.truncate(out, 0);
    return await downloadOnce(url, out, options);
  }
}

class ResumedMismatch extends UploadError {}

async function downloadOnce(
  url: string,
  out: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const policy = { ...DEFAULT_RETRY, ...options.retry };
  const { responseMs, stallMs } = { ...DEFAULT_DEADLINES, ...options.deadlines };
  const contact = new Contact();
  using file = await Deno.open(out, { read: true, write: true, create: true });
  let attempt = 0;
  let etag: string | null = null;
  let expected: ReturnType<typeof parseReprDigest>;
  let total: number | undefined;
  const resumedFrom = (await file.stat()).size;
  for (;;) {
    let have = (await file.stat()).size;
    const headers: Record<string, string> = { ...options.headers };
    if (have > 0 && etag !== null) {
      headers["Range"] = `bytes=${have}-`;
      headers["If-Range"] = etag;
    } else if (have > 0) {
      headers["Range"] = `bytes=${have}-`;
    }
    const dog = new Watchdog(options.signal);
    const stalled = () =>
      dog.arm(stallMs, `the download stalled: no bytes for ${seconds(stallMs)}`);
    try {
      dog.arm(responseMs, `no response to GET within ${seconds(responseMs)}`);
      const res = await (options.fetch ?? fetch)(url, { headers, signal: dog.signal }).catch(
        (error) => {
          throw new UploadError(0, "network", networkWords(dog.expired ?? error, url));
        },
      );
      contact.answered = true;
      stalled();
      if (res.status === 416 && have > 0) {
        // Already whole (or longer than the upload): restart from zero to be sure.
        await res.body?.cancel();
        await file.truncate(0);
        etag = null;
        continue;
      }
      if (res.status !== 200 && res.status !== 206) {
        const said = await res.text().catch(() => "");
        throw new UploadError(res.status, "http", explainRefusal(url, res.status, said));
      }
      etag = res.headers.get("etag");
      const digest = res.headers.get(H.reprDigest);
      expected = digest ? parseReprDigest(digest) : undefined;
      if (res.status === 200) {
        have = 0;
        await file.truncate(0);
        const length = res.headers.get("content-length");
        total = length === null ? undefined : Number(length);
      } else {
        total = Number(res.headers.get("content-range")?.split("/")[1] ?? NaN);
      }
      await file.seek(have, Deno.SeekMode.Start);
      for await (const chunk of res.body!) {
        stalled();
        for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
        have += chunk.length;
        attempt = 0;
        options.onProgress?.(have, total);
      }
      dog.stop();
      await file.syncData();
      break;
    } catch (caught) {
      dog.stop();
      if (options.signal?.aborted) throw caught;
      const error = caught instanceof UploadError
        ? caught
        : new UploadError(0, "network", networkWords(dog.expired ?? caught, url));
      if (error.status !== 0 && error.status < 500) throw error;
      if (error.status === 0 && !contact.answered) {
        const delayMs = contact.retryDelay(policy);
        if (delayMs === undefined) throw contact.giveUp(error);
        await new Promise((r) => setTimeout(r, delayMs));
        continue;
      }
      if (++attempt > policy.retries) {
        throw new UploadError(
          error.status,
          "gave-up",
          `Gave up after ${attempt} attempts: ${error.message}`,
        );
      }
      await new Promise((r) => setTimeout(r, backoffMs(attempt - 1, policy)));
    }
  }
  const state = new DigestState();
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(1024 * 1024);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    state.update(buffer.subarray(0, n));
  }
  const local = state.digest();
  if (total !== undefined && Number.isFinite(total) && state.length !== total) {
    throw new UploadError(0, "digest-mismatch", `Got ${state.length} bytes, expected ${total}`);
  }
  if (
    (expected?.sha256 && expected.sha256 !== local.sha256) ||
    (expected?.md5 && expected.md5 !== local.md5)
  ) {
    const Err = resumedFrom > 0 ? ResumedMismatch : UploadError;
    throw new Err(
      0,
      "digest-mismatch",
      `Downloaded bytes don't match the server's Repr-Digest: local ${showDigests(local)}; server ${
        showDigests(expected ?? {})
      }`,
    );
  }
  return {
    size: state.length,
    md5: base64ToHex(local.md5),
    sha256: base64ToHex(local.sha256),
    verified: expected?.sha256 || expected?.md5 ? "digest" : "size",
  };
}
