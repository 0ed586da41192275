/**
 * The hooks of a running server, behind the `UploadEvents` the handlers see: `pre-create` asks
 * every `--hook-url` before an upload is created; post-* events are queued on disk
 * (`<dir>/.hooks/`) and delivered to every `--hook-url` at least once; `post-finish` also runs
 * `--on-finish`. Built in `server/cli.ts`; the handlers never touch `Deno.*`.
 */
import { defined } from "../../lib/defined.ts";
import type { ServerConfig } from "../config/config.ts";
import { redactUrl, redactUrls } from "../config/config_redact.ts";
import type { Logger } from "../http/log.ts";
import type { Metrics } from "../http/metrics.ts";
import { splitCommand } from "./command_line.ts";
import { HookDelivery } from "./delivery.ts";
import type { HookEvent, UploadEvents } from "./events.ts";
import { OnFinish } from "./on_finish.ts";
import { preCreate } from "./pre_create.ts";
import { HookQueue } from "./queue.ts";

/** The queue's directory inside `--dir` (the file store only looks at two-hex-digit names). */
export const QUEUE_DIR = ".hooks";

export interface HooksOptions {
  config: Pick<ServerConfig, "dir" | "hookUrls" | "onFinish" | "hookTimeoutMs" | "hookQueueMax">;
  metrics: Metrics;
  log: Logger;
  /** The first retry's wait (default 1 s; tests shorten it). */
  retryBaseMs?: number;
  /** Aborts pre-create calls in flight (server shutdown). */
  shutdown?: AbortSignal;
  fetch?: typeof fetch;
}

export class Hooks implements UploadEvents {
  readonly #urls: string[];
  readonly #options: HooksOptions;
  readonly #queue: HookQueue | undefined;
  readonly #delivery: HookDelivery | undefined;
  readonly #onFinish: OnFinish | undefined;
  /** Events being written to the queue now (shutdown waits for them). */
  readonly #writing = new Set<Promise<void>>();

  private constructor(
    options: HooksOptions,
    queue: HookQueue | undefined,
    onFinish: OnFinish | undefined,
  ) {
    const { config, metrics, log } = options;
    this.#urls = config.hookUrls;
    this.#options = options;
    this.#queue = queue;
    this.#onFinish = onFinish;
    this.#delivery = queue &&
      new HookDelivery(queue, {
        timeoutMs: config.hookTimeoutMs,
        ...defined({ baseMs: options.retryBaseMs, fetch: options.fetch }),
        onAttempt: (a) => {
          if (a.ok) {
            metrics.hookDelivered.add(1);
            log("debug", "hook delivered", {
              url: redactUrl(a.url),
              event: a.name,
              attempt: a.attempt,
            });
          } else {
            metrics.hookFailures.add(1);
            log("warn", "hook delivery failed; will retry", {
              url: redactUrl(a.url),
              event: a.name,
              attempt: a.attempt,
              error: redactUrls(a.detail),
              retry_in_ms: a.retryInMs,
            });
          }
        },
        onError: (message, error) =>
          log("error", message, { error: error instanceof Error ? error.message : String(error) }),
      });
  }

  /**
   * Opens the queue (picking up what an earlier run left undelivered) and starts delivering.
   * Throws if `--on-finish` can't be parsed or run (no `--allow-run` for it).
   */
  static async open(options: HooksOptions): Promise<Hooks> {
    const { config, metrics, log } = options;
    let onFinish: OnFinish | undefined;
    if (config.onFinish !== undefined) {
      onFinish = new OnFinish(splitCommand(config.onFinish), {
        timeoutMs: config.hookTimeoutMs,
        onResult: (result, detail, event) => {
          metrics.onFinishRuns.add(1, { result });
          const fields = { upload_id: event.id, event_id: event.eventId, result, detail };
          if (result === "ok") log("debug", "--on-finish ran", fields);
          else log("warn", "--on-finish failed", fields);
        },
      });
      onFinish.assertAllowed();
    }
    const queue = config.hookUrls.length === 0 ? undefined : await HookQueue.open(
      `${config.dir.replace(/\/+$/, "") || "/"}/${QUEUE_DIR}`,
      {
        max: config.hookQueueMax,
        urls: config.hookUrls,
        onDrop: (name, reason) => {
          metrics.hookDropped.add(1);
          log("warn", "hook event dropped", { event: name, reason });
        },
        onSize: (n) => metrics.hookBacklog.set(n),
      },
    );
    const hooks = new Hooks(options, queue, onFinish);
    hooks.#delivery?.start();
    if (queue && queue.size > 0) {
      log("info", "delivering hook events left by an earlier run", { backlog: queue.size });
    }
    return hooks;
  }

  async preCreate(event: HookEvent): Promise<void> {
    if (this.#urls.length === 0) return;
    await preCreate(event, {
      urls: this.#urls,
      timeoutMs: this.#options.config.hookTimeoutMs,
      ...defined({ signal: this.#options.shutdown, fetch: this.#options.fetch }),
      onUnavailable: (url, reason) =>
        this.#options.log("warn", "pre-create hook unavailable; creation refused", {
          url: redactUrl(url),
          error: redactUrls(reason),
        }),
    });
  }

  /** Queues the event durably (resolving once it is on disk) and starts `--on-finish`. */
  async emit(event: HookEvent): Promise<void> {
    if (event.type === "post-finish") this.#onFinish?.run(event);
    if (!this.#queue || event.type === "pre-create") return;
    const write = this.#queue.push(event, this.#urls).then(
      () => this.#delivery?.notify(),
      (error) => {
        this.#options.metrics.hookDropped.add(1);
        this.#options.log("error", "hook event could not be queued", {
          upload_id: event.id,
          type: event.type,
          error: error instanceof Error ? error.message : String(error),
        });
      },
    );
    this.#writing.add(write);
    try {
      await write;
    } finally {
      this.#writing.delete(write);
    }
  }

  /** Events queued but not yet delivered to every receiver. */
  get backlog(): number {
    return this.#queue?.size ?? 0;
  }

  /**
   * Stops delivering (undelivered events stay on disk for the next run) once queue writes in
   * progress are done; gives `--on-finish` runs `graceMs` to end.
   */
  async stop(graceMs: number): Promise<void> {
    await Promise.allSettled([...this.#writing]);
    await Promise.all([this.#delivery?.stop(), this.#onFinish?.stop(graceMs)]);
  }
}
