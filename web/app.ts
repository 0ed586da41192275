/**
 * The upload page. Every transfer goes through the same core as the CLI (`client/core/upload_core.ts`:
 * chunked PATCH of `Blob.slice` ranges, HEAD before resuming, backoff); this file is only the
 * page around it: file rows, pause / resume / cancel, the token, resume records in localStorage
 * (so choosing the same file after a reload continues from the server's offset) and MD5 + SHA-256
 * on a worker, compared with the server's `Repr-Digest` when done.
 */
import { blobSource } from "../client/core/source.ts";
import { upload, type UploadEvent, type UploadResult } from "../client/core/upload_core.ts";
import {
  blobFingerprint,
  type KeyValueStorage,
  WebStorageResumeStore,
} from "../client/core/web_storage_resume_store.ts";
import { UploadError } from "../lib/errors.ts";
import { H, TUS_VERSION } from "../lib/protocol.ts";
import { formatBytes, formatRate, formatTimeLeft } from "../lib/units.ts";
import { RateWindow } from "../client/core/rate_window.ts";
import { workerHashing } from "./hashing.ts";
import { describeError, describeRetry } from "./messages.ts";

/** Uploads running at once; more files wait in the queue. */
const CONCURRENT = 3;
const TOKEN_KEY = "resumable:token";

const $ = <T extends HTMLElement>(selector: string): T => {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`The page has no ${selector}`);
  return found;
};
const meta = (name: string) =>
  document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? "";

const endpoint = new URL(meta("resumable-endpoint") || "/files", document.baseURI).href;
const authRequired = meta("resumable-auth") === "required";
const store = new WebStorageResumeStore(storageOr(() => localStorage));
const session = storageOr(() => sessionStorage);
const hashing = workerHashing(new URL("hash_worker.js", import.meta.url));

/** Web Storage, or a memory stand-in where the browser refuses it (storage disabled). */
function storageOr(get: () => Storage): KeyValueStorage {
  try {
    const storage = get();
    void storage.length;
    return storage;
  } catch {
    const items = new Map<string, string>();
    return {
      get length() {
        return items.size;
      },
      key: (i) => [...items.keys()][i] ?? null,
      getItem: (k) => items.get(k) ?? null,
      setItem: (k, v) => void items.set(k, v),
      removeItem: (k) => void items.delete(k),
    };
  }
}

// ---- token -------------------------------------------------------------------------------------

const tokenSection = $<HTMLElement>("#token-section");
const tokenInput = $<HTMLInputElement>("#token");
tokenInput.value = session.getItem(TOKEN_KEY) ?? "";
tokenSection.hidden = !authRequired && tokenInput.value === "";
tokenInput.addEventListener("input", () => {
  const token = tokenInput.value.trim();
  if (token) session.setItem(TOKEN_KEY, token);
  else session.removeItem(TOKEN_KEY);
});

function authHeaders(): Record<string, string> {
  const token = tokenInput.value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function askForToken(): void {
  tokenSection.hidden = false;
  tokenInput.focus();
}

// ---- rows --------------------------------------------------------------------------------------

type State = "queued" | "uploading" | "verifying" | "paused" | "done" | "failed" | "cancelled";

const list = $<HTMLUListElement>("#uploads");
const rows: Row[] = [];
const queue: Row[] = [];
let active = 0;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function button(label: string, action: string, name: string, onClick: () => void) {
  const b = element("button", action, label);
  b.type = "button";
  b.setAttribute("aria-label", `${label} ${name}`);
  b.addEventListener("click", onClick);
  return b;
}

/** One file: its row on the page and its upload. */
class Row {
  readonly file: File;
  readonly fingerprint: string;
  state: State = "queued";
  url: string | undefined;
  readonly #li = element("li", "upload");
  readonly #progress = element("progress");
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
  /** The status line shows a retry (and its countdown) until the next sign of progress. */
  #retrying = false;

  constructor(file: File) {
    this.file = file;
    this.fingerprint = blobFingerprint(file, endpoint);
    const name = file.name;
    this.#pause = button("Pause", "pause", name, () => this.pause());
    this.#resume = button("Resume", "resume", name, () => this.resume());
    this.#cancel = button("Cancel", "cancel", name, () => void this.cancel());
    const head = element("div", "head");
    head.append(element("span", "name", name), element("span", "size", formatBytes(file.size)));
    this.#progress.max = Math.max(1, file.size);
    this.#progress.value = 0;
    this.#progress.setAttribute("aria-label", `${name}: bytes the server has stored`);
    const stats = element("div", "stats");
    stats.append(this.#done, this.#speed, this.#eta);
    this.#status.setAttribute("role", "status");
    const actions = element("div", "actions");
    actions.append(this.#pause, this.#resume, this.#cancel);
    this.#result.hidden = true;
    this.#li.append(head, this.#progress, stats, this.#status, actions, this.#result);
    this.#li.dataset.name = name;
    this.#showAcknowledged(0);
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
    try {
      const result = await upload(blobSource(this.file), {
        endpoint,
        headers: authHeaders(),
        metadata: {
          filename: this.file.name,
          ...(this.file.type ? { filetype: this.file.type } : {}),
        },
        signal: controller.signal,
        checksum: "none", // the whole-file digest is checked at the end
        resume: { store, fingerprint: this.fingerprint, path: this.file.name },
        hashing,
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
      this.#stopCountdown();
      this.#controller = undefined;
      renderUnfinished();
    }
  }

  pause(): void {
    if (this.state === "queued") {
      const queued = queue.indexOf(this);
      if (queued >= 0) queue.splice(queued, 1);
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
    enqueue(this);
  }

  /** Stops the upload and deletes it on the server, and forgets it here. */
  async cancel(): Promise<void> {
    if (this.state === "done" || this.state === "cancelled") return;
    const queued = queue.indexOf(this);
    if (queued >= 0) queue.splice(queued, 1);
    this.#stopping = "cancel";
    this.#controller?.abort();
    this.#set("cancelled", "Cancelling…");
    await this.#running?.catch(() => {});
    const url = (await store.get(this.fingerprint))?.url || this.url;
    await store.delete(this.fingerprint);
    renderUnfinished();
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
        this.#showAcknowledged(event.acknowledged, event.sent);
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

  #showAcknowledged(acknowledged: number, sent = acknowledged): void {
    const total = this.file.size;
    this.#progress.value = acknowledged;
    this.#li.dataset.acknowledged = String(acknowledged);
    const percent = total === 0 ? 100 : Math.floor((acknowledged / total) * 100);
    this.#done.textContent = `${formatBytes(acknowledged)} of ${formatBytes(total)} (${percent}%)`;
    this.#meter.add(performance.now(), sent);
    this.#showSpeed(acknowledged >= total);
  }

  /** Speed and time left over the recent bytes sent; none until fresh samples exist. */
  #showSpeed(finished = false): void {
    const now = performance.now();
    const rate = this.#meter.rate(now);
    const eta = this.#meter.eta(this.file.size, now);
    this.#speed.textContent = rate ? formatRate(rate) : "";
    this.#eta.textContent = eta === undefined || finished ? "" : `${formatTimeLeft(eta)} left`;
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
    this.#showAcknowledged(result.size);
    this.#speed.textContent = "";
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
        await store.delete(this.fingerprint);
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

/** DELETE an upload on the server; undefined on success, else what went wrong. */
async function deleteUpload(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, {
      method: "DELETE",
      headers: { [H.tusResumable]: TUS_VERSION, ...authHeaders() },
    });
    await res.body?.cancel();
    if (res.ok || res.status === 404 || res.status === 410) return undefined;
    return `Cancelled here, but the server refused to delete it (${res.status}).`;
  } catch {
    return "Cancelled here, but the server could not be reached to delete it.";
  }
}

function enqueue(row: Row): void {
  queue.push(row);
  pump();
}

function pump(): void {
  while (active < CONCURRENT && queue.length > 0) {
    const row = queue.shift()!;
    active++;
    row.start().finally(() => {
      active--;
      pump();
    });
  }
}

function addFiles(files: Iterable<File>): void {
  for (const file of files) {
    const fingerprint = blobFingerprint(file, endpoint);
    const existing = rows.find((r) =>
      r.fingerprint === fingerprint && r.state !== "done" && r.state !== "cancelled"
    );
    if (existing) {
      existing.resume(); // the same file again: continue it rather than start a second copy
      continue;
    }
    const row = new Row(file);
    rows.push(row);
    list.append(row.element);
    enqueue(row);
  }
  renderUnfinished();
}

// ---- unfinished uploads from earlier visits ----------------------------------------------------

const unfinished = $<HTMLElement>("#unfinished");
const unfinishedList = $<HTMLUListElement>("#unfinished-list");

function renderUnfinished(): void {
  const busy = new Set(rows.filter((r) => r.state !== "cancelled").map((r) => r.fingerprint));
  const records = store.list().filter((e) =>
    e.record.endpoint === endpoint && !busy.has(e.fingerprint)
  );
  unfinishedList.replaceChildren(...records.map(({ fingerprint, record }) => {
    const li = element("li");
    const name = record.path ?? "(unnamed)";
    const started = new Date(record.createdAt).toLocaleString();
    li.append(element("span", "name", name), ` ${formatBytes(record.size)}, started ${started} `);
    li.append(button("Discard", "discard", name, async () => {
      await store.delete(fingerprint);
      renderUnfinished();
      await deleteUpload(record.url);
    }));
    return li;
  }));
  unfinished.hidden = records.length === 0;
}

// ---- picking and dropping ----------------------------------------------------------------------

const input = $<HTMLInputElement>("#files");
input.addEventListener("change", () => {
  addFiles(Array.from(input.files ?? []));
  input.value = ""; // so choosing the same file again fires "change" again
});

const drop = $<HTMLLabelElement>("#drop");
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  addFiles(Array.from((event as DragEvent).dataTransfer?.files ?? []));
});
// A file dropped beside the zone must not make the browser navigate away from the uploads.
for (const type of ["dragover", "drop"]) {
  globalThis.addEventListener(type, (event) => event.preventDefault());
}

/** What the server accepts, from OPTIONS (best effort: the page works without it). */
async function showLimits(): Promise<void> {
  try {
    const res = await fetch(endpoint, {
      method: "OPTIONS",
      headers: { [H.tusResumable]: TUS_VERSION },
    });
    await res.body?.cancel();
    const max = Number(res.headers.get(H.tusMaxSize) ?? "");
    if (res.ok && Number.isSafeInteger(max) && max > 0) {
      const limits = $<HTMLElement>("#limits");
      limits.textContent = `Files up to ${formatBytes(max)}.`;
      limits.hidden = false;
    }
  } catch { /* no limits shown */ }
}

renderUnfinished();
void showLimits();
document.documentElement.dataset.ready = "true";
