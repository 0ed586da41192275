/** The list of unfinished uploads from earlier visits, each with a button to discard it. */
import type { WebStorageResumeStore } from "../client/core/web_storage_resume_store.ts";
import { formatBytes } from "../lib/units.ts";
import { $, button, element } from "./dom.ts";
import { deleteUpload } from "./server_requests.ts";

const unfinished = $<HTMLElement>("#unfinished");
const unfinishedList = $<HTMLUListElement>("#unfinished-list");

/**
 * The list's renderer: it shows the resume records for `endpoint` whose fingerprints no row on the
 * page is working on (`busy`, asked at each render).
 */
export function unfinishedView(
  store: WebStorageResumeStore,
  endpoint: string,
  busy: () => Set<string>,
): () => void {
  const render = (): void => {
    const working = busy();
    const records = store.list().filter((e) =>
      e.record.endpoint === endpoint && !working.has(e.fingerprint)
    );
    unfinishedList.replaceChildren(...records.map(({ fingerprint, record }) => {
      const li = element("li");
      const name = record.path ?? "(unnamed)";
      const started = new Date(record.createdAt).toLocaleString();
      li.append(element("span", "name", name), ` ${formatBytes(record.size)}, started ${started} `);
      li.append(button("Discard", "discard", name, async () => {
        await store.delete(fingerprint);
        render();
        await deleteUpload(record.url);
      }));
      return li;
    }));
    unfinished.hidden = records.length === 0;
  };
  return render;
}
