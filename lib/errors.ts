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

/** What a parser of client input throws: a 400 whose message names what was wrong. */
export function badRequest(message: string): UploadError {
  return new UploadError(400, "bad-request", message);
}

/**
 * Any thrown value as an UploadError. Only an UploadError blames the client (a store's failure
 * became one in `fromStore`, server/http/store_errors.ts): every other error (a SyntaxError from a
 * damaged record included) is the server's own failure, a 500.
 */
export function toUploadError(error: unknown): UploadError {
  if (error instanceof UploadError) return error;
  return new UploadError(500, "internal", "Internal server error", { cause: error });
}
