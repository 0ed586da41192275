import { StoreError } from "./types.ts";

/**
 * A stored record the server cannot read back: its own broken state, never the client's fault.
 * The message, which the server logs and never sends, names the record and tells the operator
 * how to repair it.
 */
export function corruptRecord(record: string, repair: string, cause: unknown): StoreError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StoreError("corrupt-record", `${record} is damaged (${why}): ${repair}`, { cause });
}
