import type { UploadState } from "../../lib/upload_status.ts";
import { isComplete, type UploadInfo } from "../store/types.ts";

/**
 * Where an upload stands. The state is never stored: it is read off facts that only move one way
 * (bytes only grow, a complete upload takes no more, a tombstone is final), so an invalid
 * transition — complete back to uploading, terminated back to anything — can't be represented.
 *
 *   created ──▶ uploading ──▶ complete
 *      │  ╲         │
 *      │   ╲        ├──▶ expired      (the sweep; a tombstone)
 *      ▼    ▼       ▼
 *   assembling  terminated            (DELETE; a tombstone)
 *
 * A final upload (concatenation) is `assembling` until its parts are complete and copied in.
 */

/** The state of `info` at `now`, given when it expires (undefined: never). */
export function stateOf(info: UploadInfo, now: number, expiresAt: number | undefined): UploadState {
  if (info.ended) return info.ended.state;
  if (isComplete(info)) return "complete";
  if (expiresAt !== undefined && expiresAt <= now) return "expired";
  if (info.concat?.kind === "final") return "assembling";
  return info.offset === 0 ? "created" : "uploading";
}

/** The transitions the facts allow, for documentation and tests. */
export const TRANSITIONS: Readonly<Record<UploadState, readonly UploadState[]>> = {
  created: ["uploading", "complete", "terminated", "expired"],
  uploading: ["complete", "terminated", "expired"],
  assembling: ["complete", "terminated"],
  complete: ["terminated"],
  terminated: [],
  expired: [],
};
