/**
 * A failed request in words: refused, DNS, TLS, reset, unreachable, timed out, instead of fetch's
 * "fetch failed". Deno puts the reason in the error's `cause` (hyper's text); a browser gives
 * none, and then so do we.
 */
import { UploadError } from "../../lib/errors.ts";

const REASONS: [RegExp, (url: URL, detail: string) => string][] = [
  [
    /connection refused|ECONNREFUSED/i,
    (url) => `connection refused: is the server running at ${url.href}?`,
  ],
  [
    /dns error|failed to lookup|ENOTFOUND|EAI_AGAIN|name or service not known|nodename nor servname|name resolution/i,
    (url) => `DNS lookup of ${url.hostname} failed: is the host name right?`,
  ],
  [
    /certificate|tls|ssl|handshake|corrupt message/i,
    (url, detail) =>
      `TLS with ${url.host} failed (${detail}): is it https, with a trusted certificate?`,
  ],
  [
    /reset|ECONNRESET|broken pipe|EPIPE|connection closed|IncompleteMessage|unexpected EOF/i,
    (url) => `the connection to ${url.host} was reset`,
  ],
  [
    /unreachable|EHOSTUNREACH|ENETUNREACH|no route to host/i,
    (url) => `${url.host} is unreachable from this network`,
  ],
  [/timed out|ETIMEDOUT/i, (url) => `connecting to ${url.host} timed out`],
  [
    /^(Failed to fetch|NetworkError|Load failed)/i,
    (url) => `could not reach ${url.origin} (the browser gives no reason)`,
  ],
];

/** What went wrong with a request to `url` that got no answer, in one plain phrase. */
export function networkWords(error: unknown, url: string): string {
  if (error instanceof UploadError && error.code === "timeout") return error.message;
  const texts = causes(error);
  const all = texts.join(" | ");
  // The innermost reason, without hyper's "error sending request for url (…): client error
  // (Connect):" wrapping.
  const detail = (texts.at(-1) ?? "").replace(/^.*\): /, "");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `network error: ${detail}`;
  }
  for (const [pattern, words] of REASONS) if (pattern.test(all)) return words(parsed, detail);
  return `network error talking to ${parsed.host}: ${detail || "no reason given"}`;
}

/** The messages of an error and its causes, outermost first. */
function causes(error: unknown): string[] {
  const out: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    out.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return out;
}
