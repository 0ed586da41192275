import { base64ToHex, DigestState, parseReprDigest } from "../lib/digest.ts";
import { UploadError } from "../lib/errors.ts";
import { H } from "../lib/protocol.ts";
import { backoffMs, DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { showDigests } from "./upload.ts";

export interface DownloadOptions {
  headers?: Record<string, string>;
  retry?: Partial<RetryPolicy>;
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
    try {
      const res = await (options.fetch ?? fetch)(url, {
        headers,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (res.status === 416 && have > 0) {
        // Already whole (or longer than the upload): restart from zero to be sure.
        await res.body?.cancel();
        await file.truncate(0);
        etag = null;
        continue;
      }
      if (res.status !== 200 && res.status !== 206) {
        const text = (await res.text()).slice(0, 300).trim();
        throw new UploadError(res.status, "http", `GET ${res.status}: ${text}`);
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
        for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
        have += chunk.length;
        attempt = 0;
        options.onProgress?.(have, total);
      }
      await file.syncData();
      break;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const status = error instanceof UploadError ? error.status : 0;
      if (status !== 0 && status < 500) throw error;
      if (++attempt > policy.retries) {
        throw new UploadError(status, "gave-up", `Gave up after ${attempt} attempts: ${error}`);
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
