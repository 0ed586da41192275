import { UploadError } from "../../lib/errors.ts";
import { StoreError, type StoreErrorKind } from "../store/types.ts";

/** What the client is told of a corrupt record: the fault is the server's, and no path leaks out. */
export const CORRUPT_RECORD_MESSAGE =
  "The server's record of this upload is damaged; the server's operator has to repair it";

/** The status each kind of store failure is answered with; its code is the kind itself. */
const STATUS: Record<StoreErrorKind, number> = {
  "not-found": 404,
  "gone": 410,
  "part-gone": 410,
  "incomplete": 409,
  "in-progress": 409,
  "conflict": 409,
  "corrupt-record": 500,
  "storage-unavailable": 503,
};

/**
 * A store's `StoreError` as the client's answer — the one place a store's failure becomes a
 * status — and anything else unchanged.
 */
export function fromStore(error: unknown): unknown {
  if (!(error instanceof StoreError)) return error;
  const status = STATUS[error.kind];
  const answer = (message: string, headers?: Record<string, string>) =>
    new UploadError(status, error.kind, message, { cause: error, ...(headers ? { headers } : {}) });
  switch (error.kind) {
    case "corrupt-record":
      // Its message names the record's paths for the operator: logged (as the cause), never sent.
      return answer(CORRUPT_RECORD_MESSAGE);
    case "storage-unavailable":
      // The committed offset is unchanged: the client retries once the service is back.
      return answer(`${error.message}; retry shortly`, { "Retry-After": "5" });
    default:
      return answer(error.message);
  }
}
