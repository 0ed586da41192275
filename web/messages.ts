/**
 * What the page tells people, in plain words: why an upload stopped and why it is waiting. Pure
 * functions, tested in Deno; sizes, speeds and times come from `lib/units.ts`, as in the CLI.
 */
import { UploadError } from "../lib/errors.ts";

/** What the server said, without the core's "Server refused: PATCH 413: " wrapping. */
export function serverWords(message: string): string {
  const m = /(?:^|: )(?:HEAD|POST|PATCH|DELETE|OPTIONS|GET) \d{3}: ([\s\S]*)$/.exec(message);
  return (m ? m[1]! : message).trim();
}

const BY_STATUS: Record<number, string> = {
  400: "The server did not understand a request from this page.",
  401: "The server needs a valid access token. Paste one into the token field and try again.",
  403: "This account is not allowed to do that.",
  404: "The server no longer has this upload.",
  410: "The server no longer has this upload.",
  413: "This file is too large for the server.",
  415: "The server does not accept this type of file.",
  500: "The server failed.",
  503: "The server is too busy right now.",
  507: "The server has run out of storage space.",
};

/** One or two sentences for a failed upload: a headline in plain words, then the server's own. */
export function describeError(error: unknown): string {
  if (error instanceof UploadError) {
    if (error.code === "digest-mismatch") {
      return "Verification failed: the server's copy is different from your file. " +
        "Upload it again.";
    }
    if (error.code === "gave-up" && error.status === 0) {
      return "Could not reach the server, even after several tries. Check the connection, " +
        "then press Retry.";
    }
    const headline = BY_STATUS[error.status] ??
      (error.status >= 500 ? "The server failed." : `The server refused (${error.status}).`);
    const said = serverWords(error.message);
    const tail = error.code === "gave-up" ? " Gave up after several tries; press Retry." : "";
    if (!said || said === "(no message)") return headline + tail;
    return `${headline} The server said: ${said}${/[.!?]$/.test(said) ? "" : "."}${tail}`;
  }
  if (error instanceof DOMException && error.name === "NotReadableError") {
    return "Could not read the file: it was changed, moved or deleted. Choose it again.";
  }
  return `Something went wrong: ${error instanceof Error ? error.message : String(error)}`;
}

/** Why the upload is waiting before its next attempt, with the seconds left. */
export function describeRetry(status: number | undefined, secondsLeft: number): string {
  const why = status === undefined
    ? "Lost the connection to the server"
    : status === 503
    ? "The server is busy"
    : status === 507
    ? "The server has run out of storage space"
    : status === 408
    ? "The connection was too slow"
    : status === 409
    ? "The server's copy moved on"
    : status === 423
    ? "The upload is still locked by an earlier connection"
    : status === 429
    ? "Too many requests"
    : status === 460
    ? "A piece arrived damaged"
    : `The server answered ${status}`;
  return secondsLeft > 0 ? `${why}; retrying in ${secondsLeft} s…` : `${why}; retrying now…`;
}
