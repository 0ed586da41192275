import { defined } from "../lib/defined.ts";
import { AccountedStore } from "./store/accounted_store.ts";
import { FileStore } from "./store/file/file_store.ts";
import { type GroupSync, openGroupSync } from "./store/file/group_sync.ts";
import { statfs } from "node:fs/promises";
import type { Readiness } from "./http/deps.ts";
import { createLogger } from "./http/log.ts";
import { Metrics } from "./http/metrics.ts";
import type { ServerConfig } from "./config/config.ts";
import { createHandler } from "./http/handler.ts";
import { sweepExpired } from "./http/expiry.ts";
import { openBackends } from "./backends.ts";
import { requestPeer, requestTrailers, sendInformational, serveHttp } from "./http_node.ts";
import { watchProcess } from "./process_metrics.ts";
import { VERSION } from "../lib/version.ts";
import { Hooks } from "./hooks/hooks.ts";
import { envVar } from "../lib/deno/env.ts";
import { readTlsPair } from "./tls.ts";

/** How long shutdown waits for in-flight requests (already told to stop) before giving up. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Runs the server until SIGINT or SIGTERM. Prints exactly one line to stdout once ready:
 * `listening on http://HOST:PORT/files` (https with a certificate). Resolves when the server has
 * stopped. SIGHUP reads the certificate and key again.
 */
export async function runServer(config: ServerConfig): Promise<void> {
  // First: a bad certificate is a bad setting (RangeError, exit 2), before anything is opened.
  const tls = config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
    ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
    : undefined;
  const initialTls = tls ? await readTlsPair(tls.certFile, tls.keyFile) : undefined;
  const metrics = new Metrics();
  watchProcess(metrics, VERSION);
  const log = createLogger(config.logFormat, config.logLevel, (line) => console.error(line));
  await prepareDir(config.dir);
  const group = openGroupSync(config.dir);
  // After a crash of this process, bytes it wrote but never synced are still in the page cache,
  // and the next HEAD counts them: make them durable before anyone is told.
  await group?.sync();
  // Local files and in-process locks, or (--store s3, --db) a bucket and PostgreSQL.
  const backends = await openBackends(config, () =>
    // With --allow-ffi, concurrent requests share one syncfs (group commit); else fsync per file.
    FileStore.open(config.dir, (s) => metrics.fsyncDuration.observe(s), group, {
      fence: config.db !== undefined, // several instances on one directory: lock files too
    }));
  const files = backends.store;
  // With a quota, every change goes through a wrapper that keeps the bytes per owner.
  const accounted = config.quota === undefined
    ? undefined
    : await AccountedStore.open(files, config.quota);
  const store = accounted ?? files;
  const locker = backends.locker;
  const stopping = new AbortController();
  const logError = (message: string, error: unknown) =>
    log("error", message, { error: error instanceof Error ? error.message : String(error) });
  // Undelivered events of an earlier run are picked up here and delivered from now on.
  const hooks = config.hookUrls.length > 0 || config.onFinish !== undefined
    ? await Hooks.open({
      config,
      metrics,
      log,
      shutdown: stopping.signal,
      ...hookRetryBase(),
    })
    : undefined;
  const handler = createHandler({
    config,
    store,
    locker,
    shutdown: stopping.signal,
    logError,
    trailers: requestTrailers,
    informational: sendInformational,
    peer: requestPeer,
    rateCounter: backends.rateCounter,
    usage: accounted,
    metrics,
    log,
    readiness: readinessOf(config, metrics, group, backends.probe),
    events: hooks,
  });
  const server = await serveHttp(
    {
      hostname: config.host,
      port: config.port,
      headersTimeoutMs: config.idleTimeoutMs,
      ...(initialTls ? { tls: initialTls.pair } : {}),
    },
    handler,
    logError,
  );
  if (initialTls) log("info", "tls certificate loaded", { ...initialTls.summary });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  const address = `${server.scheme}://${host}:${server.port}${config.basePath}`;
  log("info", "started", {
    version: VERSION,
    address,
    dir: config.dir,
    store: config.store,
    ...(config.store === "s3" ? { bucket: config.s3Bucket, prefix: config.s3Prefix } : {}),
    shared: config.db !== undefined, // upload info and locks in PostgreSQL
    pid: Deno.pid,
  });
  console.log(`listening on ${address}`);

  // Renewed certificates: new connections get the new pair; open ones (uploads) keep theirs. A
  // bad new pair is logged and the old one stays.
  const reloadTls = async () => {
    if (!tls) return;
    try {
      const next = await readTlsPair(tls.certFile, tls.keyFile);
      server.setTls(next.pair);
      log("info", "tls certificate reloaded", { ...next.summary });
    } catch (error) {
      logError("tls certificate reload failed; keeping the current one", error);
    }
  };
  if (tls) Deno.addSignalListener("SIGHUP", reloadTls);

  let sweeping: Promise<void> | undefined;
  const runSweep = () => sweeping ??= sweepOnce().finally(() => sweeping = undefined);
  const sweepOnce = async () => {
    try {
      const started = performance.now();
      const expired = await sweepExpired({
        store,
        locker,
        config,
        now: Date.now,
        metrics,
        ...defined({ events: hooks }),
        stop: stopping.signal,
      });
      log("debug", "sweep", {
        expired,
        unfinished: metrics.activeUploads.value(),
        duration_ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      logError("expiry sweep failed", error);
    }
  };
  // Once at start (leftovers of a crash; the unfinished-uploads gauge), then periodically.
  void runSweep();
  const sweep = setInterval(runSweep, config.sweepIntervalMs);

  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  let received: Deno.Signal | undefined;
  const stops = signals.map((signal) =>
    [signal, () => {
      received = signal;
      stopping.abort();
    }] as const
  );
  for (const [s, stop] of stops) Deno.addSignalListener(s, stop);
  await new Promise((resolve) => stopping.signal.addEventListener("abort", resolve));
  const stoppedAt = performance.now();
  log("info", "stopping", { signal: received });
  clearInterval(sweep);
  for (const [s, stop] of stops) Deno.removeSignalListener(s, stop);
  if (tls) Deno.removeSignalListener("SIGHUP", reloadTls);
  // In-flight bodies saw the abort: they fsync what arrived and answer 503; then we close.
  await server.shutdown(SHUTDOWN_GRACE_MS);
  // The sweep saw the abort and stops at the next upload (its events are queued first), but a
  // listing or a stuck database could keep it: wait a grace period at most.
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    sweeping,
    new Promise((resolve) => graceTimer = setTimeout(resolve, SHUTDOWN_GRACE_MS)),
  ]);
  clearTimeout(graceTimer);
  // Undelivered hook events stay on disk for the next run; --on-finish runs get a grace period.
  await hooks?.stop(SHUTDOWN_GRACE_MS);
  await backends.close();
  log("info", "stopped", {
    signal: received,
    shutdown_ms: Math.round(performance.now() - stoppedAt),
  });
}

/**
 * Creates `--dir` and checks it can be written, so a wrong one is one plain line at start (exit 2)
 * rather than the runtime's permission text or a failure at the first upload.
 */
async function prepareDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.start-probe-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch (error) {
    throw new RangeError(
      `--dir ${dir}: can't write there (${whyNot(error)}); pick a directory this user may ` +
        "write, with --dir or RESUMABLE_DIR",
    );
  }
}

function whyNot(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) return "a system path the server may not use";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory) {
    return "a file is in the way";
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\(os error \d+\).*$/s, "").replace(/:[^:]*$/, "").toLowerCase();
}

/**
 * The first hook retry's wait, from `RESUMABLE_HOOK_RETRY_BASE_MS` — for tests, which shorten it;
 * read only where the process was granted `--allow-env` for it, so it is no operator setting.
 */
function hookRetryBase(): { retryBaseMs?: number } {
  const value = envVar("RESUMABLE_HOOK_RETRY_BASE_MS");
  return value !== undefined && /^\d{1,7}$/.test(value) && Number(value) > 0
    ? { retryBaseMs: Number(value) }
    : {};
}

/**
 * Readiness of the data directory: writable (a probe file is written and removed) and with at
 * least `--min-free` bytes free. Checked at most once a second; the free space feeds a gauge.
 */
function readinessOf(
  config: ServerConfig,
  metrics: Metrics,
  group: GroupSync | undefined,
  probe?: () => Promise<string | undefined>,
): () => Promise<Readiness> {
  let last: { at: number; state: Promise<Readiness> } | undefined;
  const check = async (): Promise<Readiness> => {
    if (group?.failed) {
      return { ready: false, reason: `writes can't be made durable: ${group.failed.message}` };
    }
    const unreachable = await probe?.();
    if (unreachable) return { ready: false, reason: unreachable, unavailable: true };
    let freeBytes: number | undefined;
    try {
      const fs = await statfs(config.dir);
      freeBytes = Number(fs.bavail) * Number(fs.bsize);
      metrics.diskFree.set(freeBytes);
    } catch {
      // Without --allow-sys=statfs the free space is unknown: don't refuse uploads for that.
    }
    try {
      const probe = `${config.dir}/.ready-probe-${crypto.randomUUID().slice(0, 8)}`;
      await Deno.writeFile(probe, new Uint8Array(1));
      await Deno.remove(probe);
    } catch (error) {
      return { ready: false, reason: `${config.dir} is not writable: ${(error as Error).message}` };
    }
    if (freeBytes !== undefined && freeBytes < config.minFree) {
      return {
        ready: false,
        reason: `${freeBytes} bytes free in ${config.dir}, below --min-free ${config.minFree}`,
        freeBytes,
      };
    }
    return { ready: true, ...defined({ freeBytes }) };
  };
  return () => {
    const now = Date.now();
    if (!last || now - last.at > 1000) last = { at: now, state: check() };
    return last.state;
  };
}
