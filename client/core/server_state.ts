/** What a response says of the upload on the server: its offset, length and digests. */
import { type Digests, parseReprDigest } from "../../lib/digest_header.ts";
import { UploadError } from "../../lib/errors.ts";
import { H, parseHeaderInteger } from "../../lib/protocol.ts";
import type { Answer } from "./deadline.ts";
import { defined, present } from "../../lib/defined.ts";

export interface ServerState {
  /** Undefined for a final upload that is not assembled yet. */
  offset?: number;
  length?: number;
  digests?: Partial<Digests>;
}

/** Offset, length and digests from a response; `needOffset` makes a missing offset an error. */
export function serverState(
  res: Pick<Answer, "status" | "headers">,
  needOffset: boolean,
): ServerState {
  const offset = res.headers.get(H.uploadOffset);
  if (offset === null && needOffset) {
    throw new UploadError(res.status, "bad-response", `${res.status} without Upload-Offset`);
  }
  const length = res.headers.get(H.uploadLength);
  const digest = res.headers.get(H.reprDigest);
  const digests = digest ? parseReprDigest(digest) : undefined;
  // The parser's 400 would blame this client: a malformed header is the server's bad response.
  const integer = (name: string, value: string) => {
    try {
      return parseHeaderInteger(name, value);
    } catch (error) {
      throw new UploadError(res.status, "bad-response", (error as Error).message, { cause: error });
    }
  };
  return {
    ...defined({
      offset: present(offset, (v) => integer(H.uploadOffset, v)),
      length: present(length, (v) => integer(H.uploadLength, v)),
      digests,
    }),
  };
}
