/**
 * A refused request to an upload's URL (`status`, `download`) in one plain line: what happened,
 * in the server's own words where it gave any, and what to do about it.
 */
import { serverMessage } from "./link.ts";

/** One line for an error `status` the server answered for `url`; `body` is what it said. */
export function explainRefusal(url: string, status: number, body = ""): string {
  const said = body.trim() === "" ? "" : serverMessage(body);
  const because = said && said !== "(no message)" ? ` (the server said: ${said})` : "";
  switch (status) {
    case 404:
    case 410:
      return `the server has no upload at ${url}${because}: it expired, was deleted, or the URL ` +
        `is wrong; upload the file again`;
    case 409:
      return `the upload at ${url} is not complete yet${because}; finish it with ` +
        `\`client upload FILE\` (the same command resumes it), then try again`;
    case 401:
      return `the server needs a token for ${url}${because}: pass --token or set RESUMABLE_TOKEN`;
    case 403:
      return `the server refused access to ${url}${because}: the token may belong to another ` +
        `account`;
    default:
      return status >= 500
        ? `the server failed answering for ${url} (${status})${because}; try again later`
        : `the server refused the request for ${url} (${status})${because}`;
  }
}
