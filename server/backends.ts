/**
 * Where a server keeps uploads and how it locks them: local files with in-process locks (the
 * default, nothing else to run), or — to run several instances behind one address — bytes in an
 * S3-compatible bucket, info in PostgreSQL and locks shared through PostgreSQL. `--db` with the
 * file store shares only the locks (instances on one shared filesystem; info stays in `.info`).
 */
import type { ServerConfig } from "./config/config.ts";
import { type Locker, MemoryLocker } from "./lock/locker.ts";
import type { RateCounter } from "./http/rate_limit.ts";
import type { UploadStore } from "./store/types.ts";

export interface Backends {
  store: UploadStore;
  locker: Locker;
  /** Closes database connections and idle S3 connections (after the server has stopped). */
  close(): Promise<void>;
  /** Why the database or the bucket can't be used now (for /readyz), or undefined if they can. */
  probe?(): Promise<string | undefined>;
  /** `--rate-limit` counts shared through the database (without one, each instance counts). */
  rateCounter?: RateCounter;
}

/** Opens the backends `config` asks for; `openFiles` makes the file store (cli.ts knows how). */
export async function openBackends(
  config: ServerConfig,
  openFiles: () => Promise<UploadStore>,
): Promise<Backends> {
  if (config.db === undefined) {
    return {
      store: await openFiles(),
      locker: new MemoryLocker(config.lockTimeoutMs),
      close: () => Promise.resolve(),
    };
  }
  // Loaded with --db only: a server on its own never loads the PostgreSQL client.
  const shared = await import("./backends_shared.ts").catch((error) => {
    throw new Error(`Cannot use --db: its modules failed to load: ${error.message}`, {
      cause: error,
    });
  });
  return await shared.openSharedBackends(config, config.db, openFiles);
}
