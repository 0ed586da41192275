/**
 * What a row of bench/e2e.ts is: a key, a label, what it is compared with, and how one repetition
 * of it runs (in its own scope) to one sample.
 */
import type { Peer } from "./peers.ts";
import { MiB, type Scope } from "./process.ts";

export interface Env {
  file: string;
  size: number;
  md5: string;
  peer: Peer | undefined;
  /** The tusd binary, when it could be built. */
  tusd: string | undefined;
  smallCount: number;
  smallSize: number;
  concurrency: number;
}

export interface Sample {
  /** MB/s (10^6 bytes per second), or uploads per second for the small-upload rows. */
  value: number;
  /** Peak RSS, KiB. */
  server?: number;
  client?: number;
  /** Server CPU seconds for the row (user + system, including its start). */
  serverCpu?: number;
  /** The client's CPU seconds (user + system), to its exit. */
  clientCpu?: number;
}

export type Section = "limit" | "ours" | "peer" | "small";

export interface Row {
  key: string;
  label: string;
  section: Section;
  needsPeer?: boolean;
  needsTusd?: boolean;
  /** The peer row this one is compared with. */
  peer?: string;
  /** The limit row(s) this one is compared with (the smallest of them, rep by rep). */
  limit?: string[];
  limitLabel?: string;
  run(scope: Scope, env: Env): Promise<Sample>;
}

/** The chunk sizes the clients are measured at, each with the dd row it is compared with. */
export const CHUNKS = [
  { name: "1 MiB", flag: "1MiB", bytes: MiB, limit: "dd-dsync-1m", limitLabel: "dd 1M dsync" },
  { name: "8 MiB", flag: "8MiB", bytes: 8 * MiB, limit: "dd-dsync-8m", limitLabel: "dd 8M dsync" },
  { name: "one PATCH", flag: "0", bytes: 0, limit: "", limitLabel: "" },
] as const;
/** What one PATCH is held to: the slower of per-write durable dd and md5sum. */
export const ONE_PATCH_LIMIT: Pick<Row, "limit" | "limitLabel"> = {
  limit: ["dd-dsync-8m", "md5sum"],
  limitLabel: "min(dd 8M dsync, md5sum)",
};

/** The limit a client row at `chunk` is compared with. */
export function chunkLimit(chunk: typeof CHUNKS[number]): Pick<Row, "limit" | "limitLabel"> {
  return chunk.limit ? { limit: [chunk.limit], limitLabel: chunk.limitLabel } : ONE_PATCH_LIMIT;
}
