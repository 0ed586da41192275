/** The three dialects the client speaks, and what it learns from a tus server's OPTIONS. */
import { type ChecksumAlgorithm, isAlgorithm } from "../../lib/checksum_header.ts";
import {
  completenessField,
  DRAFT_RULES,
  type DraftRules,
  type InteropVersion,
  LATEST_INTEROP_VERSION,
} from "../../lib/ietf_versions.ts";
import { H, OFFSET_CONTENT_TYPE, TUS_VERSION } from "../../lib/protocol.ts";

export type ProtocolName = "tus" | "ietf" | "plain";

export interface Dialect {
  name: ProtocolName;
  /** Sent on every request. */
  version: Record<string, string>;
  /** The IETF draft's rules at the version spoken (the "ietf" dialect only). */
  draft?: DraftRules;
  /** Extra headers of a creation request for `size` bytes; `complete`: its body is all of them. */
  create(size: number, complete?: boolean): Record<string, string>;
  /** Extra headers of an append of `length` bytes at `offset` of `size`. */
  append(offset: number, length: number, size: number): Record<string, string>;
}

const TUS: Dialect = {
  name: "tus",
  version: { [H.tusResumable]: TUS_VERSION },
  create: (size) => ({ [H.uploadLength]: String(size) }),
  append: () => ({ "Content-Type": OFFSET_CONTENT_TYPE }),
};

const PLAIN: Dialect = {
  name: "plain",
  version: {},
  create: (size) => ({ [H.uploadLength]: String(size) }),
  append: () => ({ "Content-Type": OFFSET_CONTENT_TYPE }),
};

/** The IETF draft at interop `version`: its field names, media type and length field. */
function ietf(version: InteropVersion): Dialect {
  const draft = DRAFT_RULES[version];
  const length = (size: number) => draft.sendsLength ? { [H.uploadLength]: String(size) } : {};
  return {
    name: "ietf",
    version: { [H.uploadDraftInteropVersion]: String(version) },
    draft,
    create: (size, complete = size === 0) => ({
      ...length(size),
      ...Object.fromEntries([completenessField(draft, complete)]),
    }),
    append: (offset, length, size) => ({
      ...(draft.appendType ? { "Content-Type": draft.appendType } : {}),
      ...Object.fromEntries([completenessField(draft, offset + length >= size)]),
    }),
  };
}

/** The dialect named, the IETF draft at `ietfVersion` (the newest by default). */
export function dialectOf(
  name: ProtocolName,
  ietfVersion: InteropVersion = LATEST_INTEROP_VERSION,
): Dialect {
  return name === "tus" ? TUS : name === "plain" ? PLAIN : ietf(ietfVersion);
}

export interface ServerFeatures {
  extensions: Set<string>;
  checksums: ChecksumAlgorithm[];
}

/** Nothing beyond the core protocol: what is assumed where OPTIONS can't tell. */
export function noFeatures(): ServerFeatures {
  return { extensions: new Set(), checksums: [] };
}

/** What a tus server offers, from the headers of its answer to OPTIONS. */
export function featuresOf(headers: Headers): ServerFeatures {
  const list = (name: string) =>
    (headers.get(name) ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    extensions: new Set(list(H.tusExtension)),
    checksums: list(H.tusChecksumAlgorithm).map((a) => a.toLowerCase()).filter(isAlgorithm),
  };
}

/** Fastest first, as measured here (SHA-NI): sha1 ≈ 1.8 GB/s, sha256 ≈ 1.7, md5 ≈ 0.6. */
export const CHECKSUM_PREFERENCE: ChecksumAlgorithm[] = ["sha1", "sha256", "md5"];

export function fastestChecksum(offered: ChecksumAlgorithm[]): ChecksumAlgorithm | undefined {
  return CHECKSUM_PREFERENCE.find((a) => offered.includes(a));
}
