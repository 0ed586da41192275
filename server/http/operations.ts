/**
 * Endpoints for operators, outside the upload path: liveness, readiness and Prometheus metrics.
 * They need no auth (put them behind the proxy's own rules when exposed).
 */
import type { Deps } from "./deps.ts";

type Operation = (deps: Deps) => Promise<Response>;

export const OPERATIONS: Record<string, Operation> = {
  /** Liveness: the process answers. */
  "/healthz": () => Promise.resolve(Response.json({ status: "ok" })),
  /** Readiness: the data directory is writable and has `--min-free` bytes free. */
  "/readyz": async (deps) => {
    const state = await deps.readiness?.() ?? { ready: true };
    return Response.json(
      { status: state.ready ? "ready" : "not ready", ...state },
      { status: state.ready ? 200 : 503, headers: { "Cache-Control": "no-store" } },
    );
  },
  "/metrics": (deps) => {
    deps.metrics.activeBodies.set(deps.active.count);
    return Promise.resolve(
      new Response(deps.metrics.render(), {
        headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
      }),
    );
  },
};
