/**
 * The IETF "Resumable Uploads for HTTP" draft, at the interop version each request names: the
 * same uploads as tus, other field names. What differs between versions is looked up in
 * `DRAFT_RULES` (lib/ietf_versions.ts); this file applies it.
 */
import { UploadError } from "../../lib/errors.ts";
import {
  completenessField,
  type DraftProblem,
  type DraftRules,
  INTEROP_VERSIONS,
} from "../../lib/ietf_versions.ts";
import { H } from "../../lib/protocol.ts";
import { parseSfBoolean, parseSfInteger } from "../../lib/structured_field.ts";
import type { Context } from "./context.ts";
import type { Deps } from "./deps.ts";
import { expiresAt } from "./expiry.ts";
import { uploadEvent } from "./upload_events.ts";
import { uploadUrl } from "./urls.ts";
import { isComplete, type UploadInfo } from "../store/types.ts";

/** The draft's rules for this request; only called on the "ietf" dialect. */
export function draftOf(ctx: Pick<Context, "draft">): DraftRules {
  if (!ctx.draft) throw new Error("Not a request of the IETF draft");
  return ctx.draft;
}

/** 400 for a version we don't speak, naming the ones we do. */
export function unsupportedVersion(value: string | null): UploadError {
  return new UploadError(
    400,
    "unsupported-interop-version",
    `${H.uploadDraftInteropVersion} ${JSON.stringify(value?.slice(0, 10))} is not supported; ` +
      `this server speaks interop versions ${INTEROP_VERSIONS.join(", ")}`,
  );
}

/**
 * A non-negative sf-integer field, or undefined when absent — or, from interop version 8, when
 * its value is not one ("Other values MUST cause the entire header field to be ignored").
 */
export function draftInteger(ctx: Context, name: string): number | undefined {
  const value = ctx.req.headers.get(name);
  if (value === null) return undefined;
  const n = parseSfInteger(value);
  if (n !== undefined && n >= 0 && Number.isSafeInteger(n)) return n;
  if (draftOf(ctx).ignoresInvalidFields) return undefined;
  throw new UploadError(
    400,
    "bad-header",
    `${name} must be a non-negative integer, got ${JSON.stringify(value.slice(0, 40))}`,
  );
}

/** An sf-boolean field, or undefined when absent (or, from version 8, invalid). */
function draftBoolean(ctx: Context, name: string): boolean | undefined {
  const value = ctx.req.headers.get(name);
  if (value === null) return undefined;
  const flag = parseSfBoolean(value);
  if (flag !== undefined || draftOf(ctx).ignoresInvalidFields) return flag;
  throw new UploadError(400, "bad-header", `${name} must be ?0 or ?1`);
}

/**
 * Whether this creation or append completes the upload, from `Upload-Complete` (or, at version 3,
 * its inverse `Upload-Incomplete`). A creation must say; an append without it follows the version.
 */
export function requestCompletes(ctx: Context, kind: "creation" | "append"): boolean {
  const rules = draftOf(ctx);
  const name = rules.completeness;
  const flag = draftBoolean(ctx, name);
  if (flag !== undefined) return name === H.uploadIncomplete ? !flag : flag;
  if (kind === "append" && rules.appendWithoutCompleteness !== "refused") {
    return rules.appendWithoutCompleteness === "completes";
  }
  throw new UploadError(
    400,
    "missing-upload-complete",
    `${name} (?0 or ?1) is required on this ${kind} at interop version ${rules.version}`,
  );
}

/** 400 for length indications that disagree (a problem type of its own from version 7). */
export function inconsistentLength(message: string, offset?: number): UploadError {
  return new UploadError(400, "inconsistent-length", message, {
    headers: offset === undefined ? {} : { [H.uploadOffset]: String(offset) },
  });
}

/**
 * The request said the upload ends here and its body arrived whole: the upload's length is what
 * it now holds — or, if a length was given before and the bytes don't reach it, 400.
 */
export async function completeUpload(ctx: Context, info: UploadInfo): Promise<void> {
  if (info.length === undefined) {
    await ctx.deps.store.declareLength(info.id, info.offset);
    info.length = info.offset;
  } else if (info.length !== info.offset) {
    throw inconsistentLength(
      `${draftOf(ctx).completeness} says the upload ends at ${info.offset} bytes, but its length ` +
        `is ${info.length}`,
      info.offset,
    );
  }
}

/**
 * From version 8 a body past the upload's length ends the upload ("marking the upload resource
 * invalid and rejecting any further interaction with it"): terminated, as by a DELETE.
 */
export async function endIfOverflowed(
  ctx: Context,
  info: UploadInfo,
  error: unknown,
): Promise<void> {
  const overflow = error instanceof UploadError && error.code === "too-large";
  if (!overflow || !draftOf(ctx).overflowEndsUpload || info.length === undefined) return;
  if (await ctx.deps.store.remove(info.id, { state: "terminated", at: ctx.deps.now() })) {
    ctx.deps.progress.forget(info.id);
    await uploadEvent(ctx.deps, "terminated", info, uploadUrl(ctx, info.id));
  }
}

/** Versions 3 to 6 refuse a HEAD or DELETE that carries the fields of an append (400). */
export function assertNoAppendFields(ctx: Context): void {
  for (const name of draftOf(ctx).refusedOnHeadAndDelete) {
    if (ctx.req.headers.has(name)) {
      throw new UploadError(400, "unexpected-field", `A ${ctx.method} must not carry ${name}`);
    }
  }
}

/**
 * `Upload-Limit` as this version writes it, or undefined before version 6: `max-size` with
 * `--max-size`, the remaining lifetime (`expires`, from version 7 `max-age`) while the upload can
 * expire, and `min-size=0` when there is no limit at all (never an empty value).
 */
export function uploadLimit(
  deps: Deps,
  rules: DraftRules,
  info?: UploadInfo,
): string | undefined {
  if (!rules.limits) return undefined;
  const limits: string[] = [];
  if (deps.config.maxSize !== undefined) limits.push(`max-size=${deps.config.maxSize}`);
  const lifetimeMs = info ? lifetimeOf(deps, info) : deps.config.expireMs;
  if (lifetimeMs !== undefined && lifetimeMs > 0) {
    limits.push(`${rules.limits.lifetimeKey}=${Math.floor(lifetimeMs / 1000)}`);
  }
  return limits.length > 0 ? limits.join(", ") : "min-size=0";
}

function lifetimeOf(deps: Deps, info: UploadInfo): number | undefined {
  const at = expiresAt(deps, info);
  return at === undefined ? undefined : Math.max(0, at - deps.now());
}

/** The draft's view of an upload (or, without one, of the server), on every response about it. */
export function ietfHeaders(ctx: Context, info?: UploadInfo): Record<string, string> {
  const rules = draftOf(ctx);
  const headers: Record<string, string> = { [H.uploadDraftInteropVersion]: String(rules.version) };
  const limit = uploadLimit(ctx.deps, rules, info);
  if (limit !== undefined) headers[H.uploadLimit] = limit;
  if (info) {
    const [name, value] = completenessField(rules, isComplete(info));
    headers[name] = value;
  }
  return headers;
}

/**
 * `104 (Upload Resumption Supported)` for a creation, sent as soon as the upload exists and before
 * its body is read: its URL (and, from version 6, its limits), so a client cut off mid-body can
 * resume. True if the edge sent it.
 */
export function announceUpload(ctx: Context, info: UploadInfo): boolean {
  const send = ctx.deps.informational;
  if (!send) return false;
  const rules = draftOf(ctx);
  const headers: Record<string, string> = {
    [H.uploadDraftInteropVersion]: String(rules.version),
    Location: uploadUrl(ctx, info.id),
  };
  const limit = uploadLimit(ctx.deps, rules, info);
  if (limit !== undefined) headers[H.uploadLimit] = limit;
  return send(ctx.req, 104, headers);
}

const PROBLEM_TYPES: Record<DraftProblem, string> = {
  "offset-mismatch": "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
  "completed-upload": "https://iana.org/assignments/http-problem-types#completed-upload",
  "inconsistent-length":
    "https://iana.org/assignments/http-problem-types#inconsistent-upload-length",
};

/**
 * An error as an RFC 9457 problem document, with the problem types the request's version defines
 * (`about:blank` otherwise). `rules` is undefined when the version itself was refused.
 */
export function problem(
  error: UploadError,
  req: Request,
  method: string,
  rules: DraftRules | undefined,
): Response {
  const known = rules?.problems.find((p) => p === error.code);
  const body: Record<string, unknown> = {
    type: known ? PROBLEM_TYPES[known] : "about:blank",
    title: error.message,
    code: error.code,
  };
  const headers = new Headers(error.headers);
  let status = error.status;
  if (rules) {
    headers.set(H.uploadDraftInteropVersion, String(rules.version));
    if (status === 410 && rules.inactiveIs404) status = 404;
    if (rules.errorsSayIncomplete && (method === "POST" || method === "PATCH")) {
      headers.set(...completenessField(rules, false));
    }
  } else {
    body["supported-versions"] = INTEROP_VERSIONS;
  }
  if (known === "offset-mismatch") {
    body["expected-offset"] = Number(error.headers[H.uploadOffset]);
    const provided = parseSfInteger(req.headers.get(H.uploadOffset) ?? "");
    if (provided !== undefined) body["provided-offset"] = provided;
  }
  headers.set("Content-Type", "application/problem+json");
  return new Response(JSON.stringify(body), { status, headers });
}
