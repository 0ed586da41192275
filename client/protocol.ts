/** The three dialects the client speaks, and what it learns from a tus server's OPTIONS. */
import { type ChecksumAlgorithm, isAlgorithm } from "../lib/checksum_header.ts";
import { H, OFFSET_CONTENT_TYPE, TUS_VERSION } from "../lib/protocol.ts";

export type ProtocolName = "tus" | "ietf" | "plain";

export interface Dialect {
  name: ProtocolName;
  /** Sent on every request. */
  version: Record<string, string>;
  /** Extra headers of a creation request that announces `size` bytes. */
  create(size: number): Record<string, string>;
  /** Extra headers of an append of `length` bytes at `offset` of `size`. */
  append(offset: number, length: number, size: number): Record<string, string>;
}

export const DIALECTS: Record<ProtocolName, Dialect> = {
  tus: {
    name: "tus",
    version: { [H.tusResumable]: TUS_VERSION },
    create: (size) => ({ [H.uploadLength]: String(size) }),
    append: () => ({ "Content-Type": OFFSET_CONTENT_TYPE }),
  },
  ietf: {
    name: "ietf",
    version: { "Upload-Draft-Interop-Version": "6" },
    create: (size) => ({
      [H.uploadLength]: String(size),
      "Upload-Complete": size === 0 ? "?1" : "?0",
    }),
    append: (offset, length, size) => ({
      "Content-Type": "application/partial-upload",
      "Upload-Complete": offset + length >= size ? "?1" : "?0",
    }),
  },
  plain: {
    name: "plain",
    version: {},
    create: (size) => ({ [H.uploadLength]: String(size) }),
    append: () => ({ "Content-Type": OFFSET_CONTENT_TYPE }),
  },
};

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
