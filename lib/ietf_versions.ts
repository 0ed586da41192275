/**
 * What each interop version of the IETF "Resumable Uploads for HTTP" draft
 * (draft-ietf-httpbis-resumable-upload) says, as one table both sides read. Every difference
 * between the versions that this project implements is a column here; handlers and the client
 * look rules up instead of comparing version numbers.
 */

import { H } from "./protocol.ts";

export const PARTIAL_UPLOAD_TYPE = "application/partial-upload";

export type InteropVersion = 3 | 4 | 5 | 6 | 7 | 8;

/** The problem types the drafts define (RFC 9457), by the error code that stands for them. */
export type DraftProblem = "offset-mismatch" | "completed-upload" | "inconsistent-length";

export interface DraftRules {
  version: InteropVersion;
  /** The draft revisions that speak this interop version. */
  drafts: string;
  /**
   * How completeness is said: `Upload-Incomplete` (true while incomplete, the inverse) or
   * `Upload-Complete`.
   */
  completeness: typeof H.uploadComplete | typeof H.uploadIncomplete;
  /**
   * An append without the completeness field: it completes the upload (-01: "complete if and
   * only if … Upload-Incomplete omitted or false"), leaves it incomplete (-02 to -05: complete
   * only with a true value), or is refused (-06 on: "The request MUST include").
   */
  appendWithoutCompleteness: "completes" | "continues" | "refused";
  /** The media type an append must carry (-04 on), or undefined for any. */
  appendType?: typeof PARTIAL_UPLOAD_TYPE;
  /** A successful append answers 201 (-01 to -05: "MUST … 201 (Created)") or 204. */
  appendStatus: 201 | 204;
  /** The client sends `Upload-Length` (-05 on; this server accepts it from every version). */
  sendsLength: boolean;
  /** `Upload-Limit` (-04 on) and the name of its lifetime key: `expires`, then `max-age` (-06). */
  limits?: { lifetimeKey: "expires" | "max-age" };
  /** The problem types this version defines. */
  problems: readonly DraftProblem[];
  /** Request fields a HEAD or DELETE must not carry (400); -06 dropped the rule. */
  refusedOnHeadAndDelete: readonly string[];
  /** An upload that is no longer active answers 404, never 410 (-01 to -05). */
  inactiveIs404: boolean;
  /** A response that did not complete the upload, errors included, says `Upload-Complete: ?0`. */
  errorsSayIncomplete: boolean;
  /** A field whose value is not of its structured type is ignored (-09 on), not refused (400). */
  ignoresInvalidFields: boolean;
  /** A body past the upload's length ends the upload ("marking the upload resource invalid"). */
  overflowEndsUpload: boolean;
}

const BASE = {
  completeness: H.uploadComplete,
  appendWithoutCompleteness: "continues",
  appendStatus: 201,
  sendsLength: false,
  problems: [],
  inactiveIs404: true,
  errorsSayIncomplete: false,
  ignoresInvalidFields: false,
  overflowEndsUpload: false,
} as const;

const V6_PROBLEMS: DraftProblem[] = ["offset-mismatch", "completed-upload"];
const V7_PROBLEMS: DraftProblem[] = [...V6_PROBLEMS, "inconsistent-length"];
const V7 = {
  ...BASE,
  appendWithoutCompleteness: "refused",
  appendType: PARTIAL_UPLOAD_TYPE,
  appendStatus: 204,
  sendsLength: true,
  limits: { lifetimeKey: "max-age" },
  problems: V7_PROBLEMS,
  refusedOnHeadAndDelete: [],
  inactiveIs404: false,
  errorsSayIncomplete: true,
} as const;

export const DRAFT_RULES: Record<InteropVersion, DraftRules> = {
  3: {
    ...BASE,
    version: 3,
    drafts: "-01",
    completeness: H.uploadIncomplete,
    appendWithoutCompleteness: "completes",
    refusedOnHeadAndDelete: [H.uploadOffset, H.uploadIncomplete],
  },
  4: {
    ...BASE,
    version: 4,
    drafts: "-02",
    refusedOnHeadAndDelete: [H.uploadOffset, H.uploadComplete],
  },
  5: {
    ...BASE,
    version: 5,
    drafts: "-03",
    refusedOnHeadAndDelete: [H.uploadOffset, H.uploadComplete],
  },
  6: {
    ...BASE,
    version: 6,
    drafts: "-04, -05",
    appendType: PARTIAL_UPLOAD_TYPE,
    sendsLength: true,
    limits: { lifetimeKey: "expires" },
    problems: V6_PROBLEMS,
    refusedOnHeadAndDelete: [H.uploadOffset, H.uploadComplete],
  },
  7: { ...V7, version: 7, drafts: "-06 to -08" },
  8: {
    ...V7,
    version: 8,
    drafts: "-09 on",
    ignoresInvalidFields: true,
    overflowEndsUpload: true,
  },
};

export const INTEROP_VERSIONS = Object.keys(DRAFT_RULES).map(Number) as InteropVersion[];
/** What our client speaks unless told otherwise: the newest. */
export const LATEST_INTEROP_VERSION: InteropVersion = 8;

/** The rules of a version given as text (a header or a flag), or undefined if we don't speak it. */
export function draftRules(version: string | null | undefined): DraftRules | undefined {
  const n = /^\s*[0-9]{1,2}\s*$/.test(version ?? "") ? Number(version) : NaN;
  return DRAFT_RULES[n as InteropVersion];
}

/** The completeness field with its value for a request or response (`?1` means complete). */
export function completenessField(rules: DraftRules, complete: boolean): [string, string] {
  const flag = rules.completeness === H.uploadIncomplete ? !complete : complete;
  return [rules.completeness, flag ? "?1" : "?0"];
}
