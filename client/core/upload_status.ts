/**
 * Where an upload stands on the server, for `client status`: bytes received and length, from
 * `GET URL/status` where the server has it (it takes no lock, so a live upload goes on
 * undisturbed), else from a tus HEAD; and the words for it.
 */
import { UploadError } from "../../lib/errors.ts";
import { H, parseHeaderInteger, TUS_VERSION } from "../../lib/protocol.ts";
import { formatBytes, formatRate, formatTimeLeft } from "../../lib/units.ts";
import type { UploadStatus } from "../../lib/upload_status.ts";
import { DEFAULT_DEADLINES, fetchWithin } from "./deadline.ts";
import { networkWords } from "./network_error.ts";
import { explainRefusal } from "./refusal.ts";
import { defined } from "../../lib/defined.ts";

export interface UploadProgress {
  offset: number;
  length?: number;
  /** From the status endpoint, when the server has one. */
  state?: string;
  /** Only while bytes are arriving: the server leaves it out for an upload nobody is sending. */
  bytesPerSecond?: number;
}

/**
 * The server's view of the upload at `url` (asked with `fetch`: `--ca` gives one that trusts
 * another CA); a refusal or an unreachable server throws.
 */
export async function fetchProgress(
  url: string,
  headers: Record<string, string>,
  fetch: typeof globalThis.fetch = globalThis.fetch,
): Promise<UploadProgress> {
  const ask = (target: string, init: { method?: string; headers: Record<string, string> }) =>
    fetchWithin(fetch, target, init, DEFAULT_DEADLINES).catch((error) => {
      throw new UploadError(0, "network", `${url} can't be reached: ${networkWords(error, url)}`);
    });
  const res = await ask(`${url}/status`, { headers });
  if (res.ok && res.headers.get("content-type")?.includes("json")) {
    const body = JSON.parse(res.text) as UploadStatus;
    return {
      offset: body.received,
      ...defined({ length: body.length ?? undefined }),
      ...(typeof body.state === "string" ? { state: body.state } : {}),
      ...(typeof body.bytesPerSecond === "number" && body.bytesPerSecond > 0
        ? { bytesPerSecond: body.bytesPerSecond }
        : {}),
    };
  }
  const head = await ask(url, {
    method: "HEAD",
    headers: { ...headers, [H.tusResumable]: TUS_VERSION },
  });
  if (!head.ok) {
    // The status endpoint's words, where it said why (HEAD answers carry no body).
    const body = res.status === head.status ? res.text : "";
    throw new UploadError(head.status, "http", explainRefusal(url, head.status, body));
  }
  const value = (name: string) => {
    const v = head.headers.get(name);
    return v === null ? undefined : parseHeaderInteger(name, v);
  };
  const length = value(H.uploadLength);
  return { offset: value(H.uploadOffset) ?? 0, ...defined({ length }) };
}

export interface StatusSummary {
  /** The upload's URL, or "N parts" for a parallel upload before its final exists. */
  url: string;
  offset: number;
  length: number | undefined;
  percent: number | undefined;
  state: string | undefined;
  /** Present only while someone is sending. */
  bytesPerSecond: number | undefined;
  eta: number | undefined;
}

/** The parts of an upload (one, or the partial uploads of a parallel one) as one summary. */
export function summarise(urls: string[], parts: UploadProgress[]): StatusSummary {
  let offset = 0;
  let length: number | undefined = 0;
  let rate: number | undefined;
  const states = new Set<string>();
  for (const part of parts) {
    offset += part.offset;
    length = length === undefined || part.length === undefined ? undefined : length + part.length;
    if (part.state) states.add(part.state);
    if (part.bytesPerSecond !== undefined) rate = (rate ?? 0) + part.bytesPerSecond;
  }
  const percent = length ? (offset / length) * 100 : length === 0 ? 100 : undefined;
  // Parts in different states: the upload as a whole is still uploading.
  const state = states.size === 1 ? [...states][0] : states.size > 1 ? "uploading" : undefined;
  const sending = rate !== undefined && state !== "complete" ? rate : undefined;
  const eta = sending && length !== undefined ? Math.ceil((length - offset) / sending) : undefined;
  return {
    url: urls.length === 1 ? urls[0]! : `${urls.length} parts`,
    offset,
    length,
    percent,
    state,
    bytesPerSecond: sending,
    eta,
  };
}

/** The summary for people: the URL on its own line, then where it stands. */
export function describeStatus(s: StatusSummary): string {
  const figures =
    `${formatBytes(s.offset)} of ${
      s.length === undefined ? "an unknown length" : formatBytes(s.length)
    }` + (s.percent === undefined ? "" : ` (${s.percent.toFixed(1)}%)`);
  const idle = s.state === "created" || s.state === "uploading";
  const speed = s.bytesPerSecond === undefined
    ? idle ? ", nobody is sending it now" : ""
    : `, ${formatRate(s.bytesPerSecond)}` +
      (s.eta === undefined ? "" : `, about ${formatTimeLeft(s.eta)} left`);
  return `${s.url}\n  ${s.state ?? "received"}: ${figures}${speed}`;
}
