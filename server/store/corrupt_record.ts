import { UploadError } from "../../lib/errors.ts";

/** What the client is told: the fault is the server's, and no path or detail leaks out. */
export const CORRUPT_RECORD_MESSAGE =
  "The server's record of this upload is damaged; the server's operator has to repair it";

/**
 * A stored record the server cannot read back: its own broken state, so a 500 that never blames
 * the client. The cause, which the server logs and never sends, names the record and tells the
 * operator how to repair it.
 */
export function corruptRecord(record: string, repair: string, cause: unknown): UploadError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new UploadError(500, "corrupt-record", CORRUPT_RECORD_MESSAGE, {
    cause: new Error(`${record} is damaged (${why}): ${repair}`, { cause }),
  });
}
