/**
 * The one error type of the project. It knows the HTTP status it stands for, a stable machine
 * code, and any headers its response must carry (e.g. `Upload-Offset` on a 409).
 */
export class UploadError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UploadError";
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}

/** A full disk (or an exhausted quota) as the file system reports it: answered with a 507. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** What a parser of client input throws: a 400 whose message names what was wrong. */
export function badRequest(message: string): UploadError {
  return new UploadError(400, "bad-request", message);
}

/**
 * Maps any thrown value to an UploadError. Only an UploadError blames the client: every built-in
 * error (a SyntaxError from a damaged record included) is the server's own failure, a 500.
 */
export function toUploadError(error: unknown): UploadError {
  if (error instanceof UploadError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT" || (error as Error | null)?.name === "NotFound") {
    // The upload was deleted (or expired) while this request was using it.
    return new UploadError(404, "not-found", "The upload no longer exists", { cause: error });
  }
  if (isStorageFull(error)) {
    return new UploadError(507, "storage-full", "The server's storage is full; try again later", {
      cause: error,
    });
  }
  return new UploadError(500, "internal", "Internal server error", { cause: error });
}
