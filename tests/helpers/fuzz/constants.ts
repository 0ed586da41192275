/** The fuzz run's fixed parameters and the HTTP methods it draws from. */
export const KiB = 1024;
export const MiB = 1024 * 1024;
export const OCTETS = "application/offset+octet-stream";
export const SECRET = "fuzz-secret-0123456789abcdef-xyz";
export const REPO = decodeURIComponent(new URL("../../..", import.meta.url).pathname).replace(
  /\/$/,
  "",
);
export const WORKERS = 8;
/** Longest any one request may take: idle timeout (2 s) + bounded discard (2 s) + slack. */
export const REQUEST_TIMEOUT_MS = 10_000;
export const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "PUT"]);
/** Methods an HTTP/1.1 parser (llhttp) accepts; the handler answers 405 to those it doesn't serve. */
export const PARSER_METHODS = new Set([
  ...KNOWN_METHODS,
  ..."CONNECT TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH SEARCH UNLOCK REPORT M-SEARCH".split(
    " ",
  ),
  ..."NOTIFY SUBSCRIBE UNSUBSCRIBE PURGE MKCALENDAR LINK UNLINK QUERY".split(" "),
]);
