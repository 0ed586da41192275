/**
 * Group commit: many requests that need their writes durable share one `syncfs(2)` of the data
 * directory's filesystem instead of each fsyncing its own files. A caller's writes are covered
 * only by a sync that *starts* after it asks, so a caller arriving while one runs waits for the
 * next, which every such caller shares. Nothing is acknowledged before its sync has returned.
 *
 * `syncfs` comes from libc through Deno's FFI, which needs `--allow-ffi`; without that permission
 * (or off Linux) `openGroupSync` returns undefined and the store fsyncs file by file.
 */
import { cString, libc, O } from "../../../lib/deno/libc.ts";

export class GroupSync {
  readonly #syncAll: () => Promise<void>;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /**
   * The first failure, for good: `syncfs` reports a writeback error once, to whichever sync
   * sees it, though the lost pages may be another caller's — so after one failure nothing can
   * be called durable again (as PostgreSQL does after a failed fsync). Restart to recover.
   */
  #failed: Error | undefined;
  /** Syncs started so far (for tests and the metrics). */
  syncs = 0;

  constructor(syncAll: () => Promise<void>) {
    this.#syncAll = syncAll;
  }

  /** Resolves once everything written before this call is durable (or rejects with why not). */
  sync(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#next) return this.#next;
    if (!this.#running) return this.#run();
    const next = this.#running.catch(() => {}).then(() => {
      this.#next = undefined;
      return this.#run();
    });
    this.#next = next;
    return next;
  }

  /** The failure that ended durability, if any (readiness reports it). */
  get failed(): Error | undefined {
    return this.#failed;
  }

  #run(): Promise<void> {
    this.syncs++;
    if (this.#failed) return Promise.reject(this.#failed);
    const running: Promise<void> = this.#syncAll().catch((error) => {
      this.#failed ??= error instanceof Error ? error : new Error(String(error));
      throw this.#failed;
    }).finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }
}

/**
 * A GroupSync over the filesystem holding `dir`, or undefined where FFI is not permitted or the
 * kernel is older than 5.8 (before it, `syncfs` reports no writeback error at all).
 */
export function openGroupSync(dir: string): GroupSync | undefined {
  const lib = libc();
  if (!lib || !kernelAtLeast(5, 8)) return undefined;
  const fd = lib.open(cString(dir), O.RDONLY | O.DIRECTORY | O.CLOEXEC);
  if (fd < 0) return undefined;
  // The descriptor lives as long as the process: one per data directory.
  return new GroupSync(async () => {
    if ((await lib.syncfs(fd)) !== 0) {
      throw new Error(`syncfs of ${dir} failed: the filesystem reported a write error`);
    }
  });
}

function kernelAtLeast(major: number, minor: number): boolean {
  const path = "/proc/sys/kernel/osrelease";
  // Never prompt: without read access the version is unknown, and group commit stays off.
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return false;
  try {
    const [a = 0, b = 0] = Deno.readTextFileSync(path).split(/[.-]/)
      .map(Number);
    return a > major || (a === major && b >= minor);
  } catch {
    return false;
  }
}
