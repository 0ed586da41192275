/**
 * Prometheus metrics, in process: counters that never go backwards, gauges, and histograms with
 * fixed buckets, rendered in the text exposition format for `GET /metrics`.
 */
type Labels = Record<string, string>;

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];

export class Family {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge",
  ) {}

  add(n = 1, labels: Labels = {}): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + n);
  }

  set(n: number, labels: Labels = {}): void {
    this.values.set(labelText(labels), n);
  }

  value(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [labels, value] of this.values) lines.push(`${this.name}${labels} ${value}`);
    return lines;
  }
}

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = DURATION_BUCKETS,
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (value <= b) this.counts[i]!++;
    });
  }

  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} histogram`,
      ...this.buckets.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}`),
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  const escaped = entries.map(([k, v]) =>
    `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return `{${escaped.join(",")}}`;
}

/** The server's metrics. Everything is per process; counters start at zero on each start. */
export class Metrics {
  readonly requests = new Family(
    "resumable_requests_total",
    "HTTP requests by method and status; 499: the client closed the connection first.",
    "counter",
  );
  readonly bytesReceived = new Family(
    "resumable_bytes_received_total",
    "Upload bytes stored.",
    "counter",
  );
  readonly bytesSent = new Family(
    "resumable_bytes_sent_total",
    "Response body bytes handed to clients (downloads, answers).",
    "counter",
  );
  readonly uploads = new Family(
    "resumable_uploads_total",
    "Uploads by event: created, completed, terminated, expired.",
    "counter",
  );
  readonly admissionRejections = new Family(
    "resumable_admission_rejections_total",
    "Request bodies refused with 503 because --max-active bodies were being written.",
    "counter",
  );
  readonly activeUploads = new Family(
    "resumable_uploads_active",
    "Unfinished uploads (created, uploading or assembling); recounted by each expiry sweep.",
    "gauge",
  );
  readonly activeBodies = new Family(
    "resumable_active_request_bodies",
    "Request bodies being written now.",
    "gauge",
  );
  readonly diskFree = new Family(
    "resumable_disk_free_bytes",
    "Free bytes on the filesystem of --dir, as of the last readiness check.",
    "gauge",
  );
  readonly requestDuration = new Histogram(
    "resumable_request_duration_seconds",
    "Time from request to response end.",
  );
  readonly fsyncDuration = new Histogram(
    "resumable_fsync_duration_seconds",
    "Time each data fsync took.",
  );
  readonly hookBacklog = new Family(
    "resumable_hook_backlog",
    "Hook events queued on disk and not yet delivered to every --hook-url.",
    "gauge",
  );
  readonly hookDelivered = new Family(
    "resumable_hook_deliveries_total",
    "Hook events delivered (a 2xx answer), per receiver.",
    "counter",
  );
  readonly hookFailures = new Family(
    "resumable_hook_delivery_failures_total",
    "Hook delivery attempts that failed (and will be retried).",
    "counter",
  );
  readonly hookDropped = new Family(
    "resumable_hook_events_dropped_total",
    "Hook events dropped undelivered: queue past --hook-queue-max, receiver removed, unwritable.",
    "counter",
  );
  readonly onFinishRuns = new Family(
    "resumable_on_finish_runs_total",
    "--on-finish runs by result: ok, failed, timeout, dropped.",
    "counter",
  );

  readonly #collected: { families: Family[]; refresh: () => void }[] = [];

  /** Families sampled from outside at each scrape (`refresh` runs first), rendered last. */
  collect(families: Family[], refresh: () => void): void {
    this.#collected.push({ families, refresh });
  }

  render(): string {
    for (const c of this.#collected) c.refresh();
    return [
      this.requests,
      this.bytesReceived,
      this.bytesSent,
      this.uploads,
      this.activeUploads,
      this.admissionRejections,
      this.activeBodies,
      this.diskFree,
      this.requestDuration,
      this.fsyncDuration,
      this.hookBacklog,
      this.hookDelivered,
      this.hookFailures,
      this.hookDropped,
      this.onFinishRuns,
      ...this.#collected.flatMap((c) => c.families),
    ].flatMap((m) => m.render()).join("\n") + "\n";
  }
}
