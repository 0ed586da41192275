import type { DraftRules } from "../../lib/ietf_versions.ts";
import type { Deps } from "./deps.ts";

/**
 * How the request speaks: "tus" with `Tus-Resumable`, "ietf" with `Upload-Draft-Interop-Version`
 * (the IETF draft), "plain" with neither.
 */
export type Dialect = "tus" | "ietf" | "plain";

/** One request, routed. */
export interface Context {
  req: Request;
  url: URL;
  method: string;
  dialect: Dialect;
  /** The draft's rules at the request's interop version (the "ietf" dialect only). */
  draft?: DraftRules;
  /** Set for `/files/{id}` routes; already validated. */
  id?: string;
  /** The authenticated `sub` (auth on); uploads of other owners don't exist for this request. */
  owner?: string;
  /** The token says `"admin": true`: status and listing show every owner's uploads. */
  admin?: boolean;
  deps: Deps;
  /** What the request log line reports: the upload concerned and the body bytes it stored. */
  meta: RequestMeta;
}

export interface RequestMeta {
  uploadId?: string;
  bytes: number;
  /** The client closed the connection before its request body ended (logged as 499). */
  clientClosed?: boolean;
}
