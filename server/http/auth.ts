import { UploadError } from "../../lib/errors.ts";
import { verifyJwt } from "../../lib/jwt.ts";
import type { Deps } from "./deps.ts";

/** Who is asking: the token's `sub`, and whether it carries `"admin": true`. */
export interface Principal {
  owner: string;
  admin: boolean;
}

/**
 * Who sent the request's bearer token when auth is on (undefined when off). A missing or invalid
 * token is 401 with a `WWW-Authenticate` challenge saying why.
 */
export async function authenticate(req: Request, deps: Deps): Promise<Principal | undefined> {
  const secret = deps.config.authSecret;
  if (secret === undefined) return undefined;
  const header = req.headers.get("authorization") ?? "";
  const token = /^Bearer +([A-Za-z0-9_\-.=]+)$/i.exec(header.trim())?.[1];
  if (!token) throw unauthorized("Authorization: Bearer <token> is required", undefined);
  try {
    const claims = await verifyJwt(token, secret, Math.floor(deps.now() / 1000));
    return { owner: claims.sub, admin: claims.admin === true };
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    throw unauthorized(error.message, "invalid_token");
  }
}

function unauthorized(message: string, error: string | undefined): UploadError {
  const challenge = error === undefined
    ? `Bearer realm="resumable"`
    : `Bearer realm="resumable", error="${error}", error_description="${message}"`;
  return new UploadError(401, "unauthorized", message, {
    headers: { "WWW-Authenticate": challenge },
  });
}
