/**
 * The upload page. Every transfer goes through the same core as the CLI (`client/core/upload_core.ts`:
 * chunked PATCH of `Blob.slice` ranges, HEAD before resuming, backoff); the page around it is the
 * file rows (`upload_row.ts`), the token (`token.ts`), resume records in localStorage (so choosing
 * the same file after a reload continues from the server's offset; `unfinished.ts` lists the
 * others) and MD5 + SHA-256 on a worker, compared with the server's `Repr-Digest` when done. This
 * file wires them: the queue of uploads, picking and dropping files, the size limit.
 */
import { blobFingerprint, WebStorageResumeStore } from "../client/core/web_storage_resume_store.ts";
import { formatBytes } from "../lib/units.ts";
import { $, meta } from "./dom.ts";
import { workerHashing } from "./hashing.ts";
import { maxSize } from "./server_requests.ts";
import { storageOr } from "./storage.ts";
import { unfinishedView } from "./unfinished.ts";
import { Row, type RowPage } from "./upload_row.ts";

/** Uploads running at once; more files wait in the queue. */
const CONCURRENT = 3;

const endpoint = new URL(meta("resumable-endpoint") || "/files", document.baseURI).href;
const store = new WebStorageResumeStore(storageOr(() => localStorage));
const hashing = workerHashing(new URL("hash_worker.js", import.meta.url));

const list = $<HTMLUListElement>("#uploads");
const rows: Row[] = [];
const queue: Row[] = [];
let active = 0;

const renderUnfinished = unfinishedView(
  store,
  endpoint,
  () => new Set(rows.filter((r) => r.state !== "cancelled").map((r) => r.fingerprint)),
);

const page: RowPage = {
  endpoint,
  store,
  hashing,
  enqueue(row) {
    queue.push(row);
    pump();
  },
  dequeue(row) {
    const queued = queue.indexOf(row);
    if (queued >= 0) queue.splice(queued, 1);
  },
  changed: () => renderUnfinished(),
};

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
    const row = new Row(file, page);
    rows.push(row);
    list.append(row.element);
    page.enqueue(row);
  }
  renderUnfinished();
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
    const max = await maxSize(endpoint);
    if (max !== undefined) {
      const limits = $<HTMLElement>("#limits");
      limits.textContent = `Files up to ${formatBytes(max)}.`;
      limits.hidden = false;
    }
  } catch { /* no limits shown */ }
}

renderUnfinished();
void showLimits();
document.documentElement.dataset.ready = "true";
