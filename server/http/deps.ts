import type { ServerConfig } from "../config/config.ts";
import type { UploadEvents } from "../hooks/events.ts";
import type { Locker } from "../lock/locker.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Progress } from "./progress.ts";
import type { RateCounter } from "./rate_limit.ts";
import type { Budget, UploadStore } from "../store/types.ts";

/** What the handlers share: the parts of the server, injected so tests can swap them. */
export interface Deps {
  config: ServerConfig;
  store: UploadStore;
  locker: Locker;
  /** Clock in milliseconds since the epoch. */
  now: () => number;
  /** Aborts when the server shuts down: in-flight bodies stop and keep what arrived. */
  shutdown: AbortSignal;
  /** Reports unexpected failures (500s) with their cause. */
  logError: (message: string, error: unknown) => void;
  /** The request's trailers once its body has ended; absent where the edge can't read them. */
  trailers?: (req: Request) => Promise<Headers>;
  /**
   * Sends an informational (1xx) response ahead of the final one; false where the edge can't (or
   * the response has begun). Absent where the edge has no way to.
   */
  informational?: (req: Request, status: number, headers: Record<string, string>) => boolean;
  /** Request bodies being written now (admission control). */
  active: { count: number };
  /** Bytes each owner holds, when a quota is set. */
  usage?: { of(owner: string): number; budget?(id: string): Budget | undefined };
  metrics: Metrics;
  /** Structured log lines (per request, and failures). */
  log: Logger;
  /** Whether the data directory is writable with `--min-free` bytes free (cached by the edge). */
  readiness?: () => Promise<Readiness>;
  /** Transfer rates per upload (status endpoint, listing). */
  progress: Progress;
  /** Hooks (`--hook-url`, `--on-finish`); absent when none are configured. */
  events?: UploadEvents;
  /** The address of the connection a request came on (rate limits, the log); absent where the
   * edge can't tell. */
  peer?: (req: Request) => string | undefined;
  /** Creations per owner or address, for `--rate-limit`. */
  rateCounter?: RateCounter;
}

export interface Readiness {
  ready: boolean;
  reason?: string;
  /** Not ready because a service is unreachable (503), not for lack of space (507). */
  unavailable?: boolean;
  freeBytes?: number;
}
