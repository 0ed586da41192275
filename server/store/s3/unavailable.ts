import { StoreError } from "../types.ts";
import { S3Error } from "./s3_error.ts";

/**
 * Runs a store operation, reporting an unreachable S3 or PostgreSQL as storage unavailable
 * (retry later; the committed offset is unchanged) rather than as a failure of the server.
 */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const s3Down = error instanceof S3Error && (error.status === 0 || error.status >= 500);
    const code = String((error as { code?: unknown } | null)?.code ?? "");
    const dbDown = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|CONNECTION_|CONNECT_TIMEOUT)/.test(code) ||
      code === "57P01"; // admin_shutdown
    if (s3Down || dbDown) {
      throw new StoreError(
        "storage-unavailable",
        `${s3Down ? "Object storage" : "The database"} is unavailable`,
        { cause: error },
      );
    }
    throw error;
  }
}
