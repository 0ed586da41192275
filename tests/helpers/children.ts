/**
 * The children started through these helpers, while they run, so that a process that exits on a
 * signal can kill them first: a child outlives its parent otherwise. The benchmarks rely on it.
 */

const LIVE = new Set<Deno.ChildProcess>();

/** Records `child` until it exits; returns it. */
export function track(child: Deno.ChildProcess): Deno.ChildProcess {
  LIVE.add(child);
  child.status.finally(() => LIVE.delete(child));
  return child;
}

/** SIGKILLs every tracked child still running (synchronous: usable from a signal handler). */
export function killAll(): void {
  for (const child of LIVE) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}
