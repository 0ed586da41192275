import { UploadError } from "../../lib/errors.ts";
import { isStorageFull, StoreError, type StoreErrorKind } from "../store/types.ts";

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
  "storage-full": 507,
};

/**
 * A store's `StoreError` — or a raw file-system failure it let through — as the client's answer
 * (the one place a store's failure becomes a status), and anything else unchanged.
 */
export function fromStore(error: unknown): unknown {
  const failure = error instanceof StoreError ? error : fileSystemFailure(error);
  if (!failure) return error;
  const status = STATUS[failure.kind];
  const answer = (message: string, headers?: Record<string, string>) =>
    new UploadError(status, failure.kind, message, {
      cause: error,
      ...(headers ? { headers } : {}),
    });
  switch (failure.kind) {
    case "corrupt-record":
      // Its message names the record's paths for the operator: logged (as the cause), never sent.
      return answer(CORRUPT_RECORD_MESSAGE);
    case "storage-unavailable":
      // The committed offset is unchanged: the client retries once the service is back.
      return answer(`${failure.message}; retry shortly`, { "Retry-After": "5" });
    default:
      return answer(failure.message);
  }
}

/**
 * The kind of a file-system failure a store lets through; the OS's message names server paths,
 * so the client is told a fixed one (and the cause, logged, keeps it).
 */
function fileSystemFailure(error: unknown): StoreError | undefined {
  if (isStorageFull(error)) {
    return new StoreError("storage-full", "The server's storage is full; try again later");
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT" || (error as Error | null)?.name === "NotFound") {
    // A file of the upload went away (deleted or expired) while this request was using it.
    return new StoreError("not-found", "The upload no longer exists");
  }
  return undefined;
}
