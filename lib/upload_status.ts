/** The JSON the server answers at `GET /files/{id}/status` and in the listing; the client reads it. */
import type { Metadata } from "./metadata.ts";

/** Where an upload stands (see server/http/state.ts for how it is derived). */
export type UploadState =
  | "created"
  | "uploading"
  | "complete"
  | "terminated"
  | "expired"
  | "assembling";

export const UPLOAD_STATES: readonly UploadState[] = [
  "created",
  "uploading",
  "complete",
  "terminated",
  "expired",
  "assembling",
];

/** One part of a final upload (concatenation) as it stands. */
export interface PartStatus {
  id: string;
  url: string;
  length: number;
  offset: number;
  complete: boolean;
}

export interface UploadStatus {
  id: string;
  url: string;
  state: UploadState;
  length: number | null;
  offset: number;
  /** Bytes stored: the offset, or for a final upload the sum over its parts. */
  received: number;
  complete: boolean;
  percent: number | null;
  /** Over the last minute, while the upload is live. */
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  concat: "partial" | "final" | null;
  /** A final upload's parts (status endpoint only). */
  parts?: PartStatus[];
  /** Byte ranges not yet stored, `[start, end)` (status endpoint only). */
  missing?: [number, number][];
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  /** When a terminated or expired upload ended. */
  endedAt?: string;
  owner?: string;
  metadata: Metadata;
  /** Hex digests of a complete upload. */
  digests: { md5: string; sha256: string } | null;
}

/** A page of `GET /files`. */
export interface UploadListing {
  uploads: UploadStatus[];
  nextCursor: string | null;
}
