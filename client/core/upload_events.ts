/** What an upload reports while it runs, and what it resolves to. */

export type UploadEvent =
  | { type: "created"; url: string; part?: number }
  | { type: "resumed"; url: string; offset: number; part?: number }
  | { type: "restarted"; reason: string; part?: number }
  | {
    type: "progress";
    /** Bytes the server has confirmed holding. */
    acknowledged: number;
    /** Bytes handed to the network so far (≥ acknowledged): moves while a body is being sent. */
    sent: number;
    total: number;
  }
  | {
    type: "retry";
    attempt: number;
    delayMs: number;
    reason: string;
    /** The HTTP status that caused it; absent for a network failure. */
    status?: number;
    part?: number;
  }
  | { type: "notice"; message: string }
  | {
    type: "completed";
    url: string;
    size: number;
    md5: string;
    sha256: string;
    verified: Verified;
  };

/** How the end result was checked: both digests, or only the size (server gave no digest). */
export type Verified = "digest" | "size";

export interface UploadResult {
  url: string;
  size: number;
  /** Local digests, hex. */
  md5: string;
  sha256: string;
  verified: Verified;
}
