/**
 * One file on the page: its row (progress, speed, time left, status line, buttons, the result)
 * and its upload through the shared core, paused, resumed or cancelled from the row's buttons.
 * The bar has two shades, as the CLI's: bytes the server has saved, and bytes sent (counted by
 * XMLHttpRequest as they leave) that it has not confirmed yet; speed and time left are measured
 * over the bytes sent, and shown only while something is being sent.
 */
import { blobSource } from "../client/core/source.ts";
import type { Hashing } from "../client/core/upload_core.ts";
import { upload, type UploadEvent, type UploadResult } from "../client/core/upload_core.ts";
import {
  blobFingerprint,
  type WebStorageResumeStore,
} from "../client/core/web_storage_resume_store.ts";
import { UploadError } from "../lib/errors.ts";
import { formatBytes, formatRate, formatTimeLeft, formatTransfer } from "../lib/units.ts";
import { RateWindow } from "../client/core/rate_window.ts";
import { button, element } from "./dom.ts";
import { describeError, describeRetry } from "./messages.ts";
import { deleteUpload } from "./server_requests.ts";
import { askForToken, authHeaders } from "./token.ts";
import { xhrFetch } from "./xhr_fetch.ts";

/** Speed and time left are recomputed this often while nothing arrives, so a stall shows. */
const TICK_MS = 1000;

const progressFetch = xhrFetch();

export type State =
  | "queued"
  | "uploading"
  | "verifying"
  | "paused"
  | "done"
  | "failed"
  | "cancelled";

/** What a row needs from the page around it. */
export interface RowPage {
  readonly endpoint: string;
  readonly store: WebStorageResumeStore;
  readonly hashing: Hashing;
  /** Puts the row in line for a free upload slot. */
  enqueue(row: Row): void;
  /** Takes the row out of the line, if it is waiting there. */
  dequeue(row: Row): void;
  /** Called when the set of unfinished uploads may have changed. */
  changed(): void;
}

/** One file: its row on the page and its upload. */
export class Row {
  readonly file: File;
  readonly fingerprint: string;
  state: State = "queued";
  url: string | undefined;
  readonly #li = element("li", "upload");
  readonly #bar = element("div", "bar");
  readonly #barSaved = element("span", "saved");
  readonly #barSent = element("span", "sent");
  readonly #done = element("span", "done");
  readonly #speed = element("span", "speed");
  readonly #eta = element("span", "eta");
  readonly #status = element("p", "status");
  readonly #pause: HTMLButtonElement;
  readonly #resume: HTMLButtonElement;
  readonly #cancel: HTMLButtonElement;
  readonly #result = element("dl", "result");
  readonly #meter = new RateWindow();
  #controller: AbortController | undefined;
  #stopping: "pause" | "cancel" | undefined;
  #running: Promise<void> | undefined;
  #countdown: ReturnType<typeof setInterval> | undefined;
  #sent = 0;
  #acknowledged = 0;
  /** The status line shows a retry (and its countdown) until the next sign of progress. */
  #retrying = false;

  readonly #page: RowPage;

  constructor(file: File, page: RowPage) {
    this.file = file;
    this.#page = page;
    this.fingerprint = blobFingerprint(file, page.endpoint);
    const name = file.name;
    this.#pause = button("Pause", "pause", name, () => this.pause());
    this.#resume = button("Resume", "resume", name, () => this.resume());
    this.#cancel = button("Cancel", "cancel", name, () => void this.cancel());
    const head = element("div", "head");
    head.append(element("span", "name", name), element("span", "size", formatBytes(file.size)));
    this.#bar.append(this.#barSent, this.#barSaved);
    this.#bar.setAttribute("role", "progressbar");
    this.#bar.setAttribute("aria-label", `${name}: bytes the server has stored`);
    this.#bar.setAttribute("aria-valuemin", "0");
    this.#bar.setAttribute("aria-valuemax", String(file.size));
    const stats = element("div", "stats");
    stats.append(this.#done, this.#speed, this.#eta);
    this.#status.setAttribute("role", "status");
    const actions = element("div", "actions");
    actions.append(this.#pause, this.#resume, this.#cancel);
    this.#result.hidden = true;
    this.#li.append(head, this.#bar, stats, this.#status, actions, this.#result);
    this.#li.dataset.name = name;
    this.#showBytes(0);
    this.#set("queued", "Waiting for a free slot…");
  }

  get element(): HTMLLIElement {
    return this.#li;
  }

  /** Sends the file; resolves when it is done, failed, paused or cancelled. */
  start(): Promise<void> {
    this.#running = this.#run();
    return this.#running;
  }

  async #run(): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    this.#stopping = undefined;
    this.#meter.reset();
    this.#set("uploading", "Starting…");
    const tick = setInterval(() => this.#showSpeed(), TICK_MS);
    try {
      const { endpoint, store, hashing } = this.#page;
      const result = await upload(blobSource(this.file), {
        endpoint,
        headers: authHeaders(),
        metadata: {
          filename: this.file.name,
          ...(this.file.type ? { filetype: this.file.type } : {}),
        },
        signal: controller.signal,
        resume: { store, fingerprint: this.fingerprint, path: this.file.name },
        hashing,
        progressFetch,
        onEvent: (event) => this.#onEvent(event),
      });
      this.#finished(result);
    } catch (error) {
      if (this.#stopping === "pause") {
        this.#set("paused", "Paused. Resume continues from what the server has stored.");
      } else if (this.#stopping !== "cancel") {
        await this.#failed(error);
      }
    } finally {
      clearInterval(tick);
      this.#stopCountdown();
      this.#controller = undefined;
      this.#page.changed();
    }
  }

  pause(): void {
    if (this.state === "queued") {
      this.#page.dequeue(this);
      this.#set("paused", "Paused before it started.");
      return;
    }
    if (this.state !== "uploading" && this.state !== "verifying") return;
    this.#stopping = "pause";
    this.#controller?.abort();
  }

  resume(): void {
    if (this.state !== "paused" && this.state !== "failed") return;
    this.#set("queued", "Waiting for a free slot…");
    this.#page.enqueue(this);
  }

  /** Stops the upload and deletes it on the server, and forgets it here. */
  async cancel(): Promise<void> {
    if (this.state === "done" || this.state === "cancelled") return;
    this.#page.dequeue(this);
    this.#stopping = "cancel";
    this.#controller?.abort();
    this.#set("cancelled", "Cancelling…");
    await this.#running?.catch(() => {});
    const { store } = this.#page;
    const url = (await store.get(this.fingerprint))?.url || this.url;
    await store.delete(this.fingerprint);
    this.#page.changed();
    if (!url) return this.#set("cancelled", "Cancelled.");
    const outcome = await deleteUpload(url);
    this.#set("cancelled", outcome ?? "Cancelled; the server deleted what it had received.");
  }

  #onEvent(event: UploadEvent): void {
    switch (event.type) {
      case "created":
        this.url = event.url;
        this.#stopCountdown();
        this.#status.textContent = "Uploading…";
        break;
      case "resumed":
        this.url = event.url;
        this.#stopCountdown();
        this.#meter.reset();
        this.#showSpeed();
        this.#status.textContent = `Resumed at ${
          formatBytes(event.offset)
        }: the server already had that much.`;
        this.#li.dataset.resumedAt = String(event.offset);
        break;
      case "progress":
        if (this.#retrying) this.#status.textContent = "Uploading…";
        this.#stopCountdown();
        this.#showBytes(event.acknowledged, event.sent);
        if (event.acknowledged >= event.total && this.state === "uploading") {
          this.#set("verifying", "All bytes stored; checking the SHA-256…");
        }
        break;
      case "retry":
        this.#meter.reset(); // nobody is sending until the next attempt: no speed, no time left
        this.#showSpeed();
        this.#startCountdown(event.status, event.delayMs);
        break;
      case "restarted":
        this.#meter.reset();
        this.#status.textContent = "The server lost this upload; starting it again.";
        break;
      case "notice":
        this.#status.textContent = event.message;
        break;
      case "completed":
        break;
    }
  }

  /** The bar and the bytes: saved (`data-acknowledged`) and sent (`data-sent`), as the CLI says them. */
  #showBytes(acknowledged: number, sent = acknowledged): void {
    const total = this.file.size;
    this.#acknowledged = acknowledged;
    this.#sent = Math.max(sent, acknowledged);
    const share = (bytes: number) => `${total === 0 ? 100 : (bytes / total) * 100}%`;
    this.#barSaved.style.width = share(acknowledged);
    this.#barSent.style.width = share(this.#sent);
    const words = formatTransfer(this.#sent, acknowledged, total).join(", ");
    this.#bar.setAttribute("aria-valuenow", String(acknowledged));
    this.#bar.setAttribute("aria-valuetext", words);
    this.#li.dataset.acknowledged = String(acknowledged);
    this.#li.dataset.sent = String(this.#sent);
    this.#done.textContent = words;
    this.#meter.add(performance.now(), this.#sent);
    this.#showSpeed();
  }

  /**
   * Speed and time left over the recent bytes sent; none until fresh samples exist, none once
   * every byte is saved, and none while nothing moves (the speed falls to zero, then is hidden).
   */
  #showSpeed(): void {
    const now = performance.now();
    const sending = (this.state === "uploading" || this.state === "verifying") &&
      this.#acknowledged < this.file.size;
    const rate = sending ? this.#meter.rate(now) : undefined;
    const eta = rate ? this.#meter.eta(this.file.size, now) : undefined;
    this.#speed.textContent = rate ? formatRate(rate) : "";
    this.#eta.textContent = eta === undefined ? "" : `${formatTimeLeft(eta)} left`;
  }

  #startCountdown(status: number | undefined, delayMs: number): void {
    this.#stopCountdown();
    const until = Date.now() + delayMs;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      this.#status.textContent = describeRetry(status, left);
      if (left === 0 && this.#countdown !== undefined) clearInterval(this.#countdown);
    };
    tick();
    this.#retrying = true;
    if (delayMs > 0) this.#countdown = setInterval(tick, 1000);
    this.#li.dataset.retryStatus = String(status ?? "network");
  }

  #stopCountdown(): void {
    if (this.#countdown !== undefined) clearInterval(this.#countdown);
    this.#countdown = undefined;
    this.#retrying = false;
  }

  #finished(result: UploadResult): void {
    this.url = result.url;
    this.#showBytes(result.size);
    const verified = result.verified === "digest";
    this.#set(
      "done",
      verified
        ? "Verified: the server's SHA-256 matches this file."
        : "Uploaded. The server sent no digest, so only the size could be checked.",
    );
    this.#status.classList.toggle("verified", verified);
    const link = element("a", undefined, result.url);
    link.href = result.url;
    const entries: [string, HTMLElement][] = [
      ["URL", link],
      ["SHA-256", element("code", "sha256", result.sha256)],
      ["MD5", element("code", "md5", result.md5)],
    ];
    for (const [term, value] of entries) {
      const dd = element("dd");
      dd.append(value);
      this.#result.append(element("dt", undefined, term), dd);
    }
    this.#result.hidden = false;
  }

  async #failed(error: unknown): Promise<void> {
    this.#set("failed", describeError(error));
    if (error instanceof UploadError) {
      this.#li.dataset.status = String(error.status);
      if (error.status === 401) askForToken();
      // Refused for good (too large, wrong type…): nothing to resume, no point in retrying.
      if (error.code === "rejected" && error.status !== 401 && error.status !== 403) {
        this.#resume.hidden = true;
        await this.#page.store.delete(this.fingerprint);
      }
    }
  }

  #set(state: State, message: string): void {
    this.state = state;
    this.#li.dataset.state = state;
    this.#status.textContent = message;
    const live = state === "uploading" || state === "verifying";
    this.#pause.hidden = !live && state !== "queued";
    this.#resume.hidden = state !== "paused" && state !== "failed";
    this.#resume.textContent = state === "failed" ? "Retry" : "Resume";
    this.#resume.setAttribute("aria-label", `${this.#resume.textContent} ${this.file.name}`);
    this.#cancel.hidden = state === "done" || state === "cancelled";
    if (state !== "uploading" && state !== "verifying") {
      this.#speed.textContent = "";
      this.#eta.textContent = "";
    }
  }
}
