import { AccountedStore } from "./store/accounted_store.ts";
import { FileStore } from "./store/file_store.ts";
import type { ServerConfig } from "./config.ts";
import { createHandler } from "./handler.ts";
import { sweepExpired } from "./expiry.ts";
import { MemoryLocker } from "./lock/locker.ts";
import { requestTrailers, serveHttp } from "./http_node.ts";

/** How long shutdown waits for in-flight requests (already told to stop) before giving up. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Runs the server until SIGINT or SIGTERM. Prints exactly one line to stdout once ready:
 * `listening on http://HOST:PORT/files`. Resolves when the server has stopped.
 */
export async function runServer(config: ServerConfig): Promise<void> {
  const files = await FileStore.open(config.dir);
  // With a quota, every change goes through a wrapper that keeps the bytes per owner.
  const accounted = config.quota === undefined
    ? undefined
    : await AccountedStore.open(files, config.quota);
  const store = accounted ?? files;
  const locker = new MemoryLocker(config.lockTimeoutMs);
  const stopping = new AbortController();
  const logError = (message: string, error: unknown) =>
    console.error(JSON.stringify({ level: "error", message, error: String(error) }));
  const handler = createHandler({
    config,
    store,
    locker,
    shutdown: stopping.signal,
    logError,
    trailers: requestTrailers,
    ...(accounted ? { usage: accounted } : {}),
  });
  const server = await serveHttp(
    { hostname: config.host, port: config.port, headersTimeoutMs: config.idleTimeoutMs },
    handler,
    logError,
  );
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  console.log(`listening on http://${host}:${server.port}${config.basePath}`);

  let sweeping = false;
  const sweep = setInterval(async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      await sweepExpired({ store, locker, config, now: Date.now });
    } catch (error) {
      logError("expiry sweep failed", error);
    } finally {
      sweeping = false;
    }
  }, config.sweepIntervalMs);

  const stop = () => stopping.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  await new Promise((resolve) => stopping.signal.addEventListener("abort", resolve));
  clearInterval(sweep);
  for (const s of signals) Deno.removeSignalListener(s, stop);
  // In-flight bodies saw the abort: they fsync what arrived and answer 503; then we close.
  await server.shutdown(SHUTDOWN_GRACE_MS);
}
