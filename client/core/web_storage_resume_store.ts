/**
 * Resume records in Web Storage — `localStorage` in the upload page, so an upload survives a
 * reload or a browser crash. One JSON item per fingerprint under a prefix. Browser-safe: no
 * `Deno.*`, no node modules.
 */
import type { ResumeRecord, ResumeStore } from "./resume_store.ts";

/** The part of the Web Storage API this store uses (`localStorage`, `sessionStorage`). */
export interface KeyValueStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const RESUME_PREFIX = "resumable:upload:";

/**
 * The browser's fingerprint of "the same file to the same endpoint": name, size and
 * lastModified (a File gives nothing better without reading it), and the endpoint.
 */
export function blobFingerprint(
  file: { name: string; size: number; lastModified: number },
  endpoint: string,
): string {
  return JSON.stringify([endpoint, file.name, file.size, file.lastModified]);
}

export class WebStorageResumeStore implements ResumeStore {
  readonly #storage: KeyValueStorage;
  readonly #prefix: string;

  constructor(storage: KeyValueStorage, prefix = RESUME_PREFIX) {
    this.#storage = storage;
    this.#prefix = prefix;
  }

  get(fingerprint: string): Promise<ResumeRecord | undefined> {
    return Promise.resolve(this.#read(this.#prefix + fingerprint));
  }

  /**
   * Remembers the record. A storage that refuses (full, or disabled in a private window) costs
   * only the ability to resume after a reload, so that is not an error for the upload.
   */
  set(fingerprint: string, record: ResumeRecord): Promise<void> {
    try {
      this.#storage.setItem(this.#prefix + fingerprint, JSON.stringify(record));
    } catch { /* resuming after a reload won't work; the upload itself goes on */ }
    return Promise.resolve();
  }

  delete(fingerprint: string): Promise<void> {
    this.#storage.removeItem(this.#prefix + fingerprint);
    return Promise.resolve();
  }

  /** Every remembered upload, oldest first. */
  list(): { fingerprint: string; record: ResumeRecord }[] {
    const out: { fingerprint: string; record: ResumeRecord }[] = [];
    for (let i = 0; i < this.#storage.length; i++) {
      const key = this.#storage.key(i);
      if (key === null || !key.startsWith(this.#prefix)) continue;
      const record = this.#read(key);
      if (record) out.push({ fingerprint: key.slice(this.#prefix.length), record });
    }
    return out.sort((a, b) => a.record.createdAt - b.record.createdAt);
  }

  /** A record, or undefined for a missing or malformed item (which no upload can use). */
  #read(key: string): ResumeRecord | undefined {
    const text = this.#storage.getItem(key);
    if (text === null) return undefined;
    try {
      const value = JSON.parse(text) as Partial<ResumeRecord> | null;
      if (
        typeof value?.url === "string" && typeof value.endpoint === "string" &&
        Number.isSafeInteger(value.size) && typeof value.createdAt === "number"
      ) {
        return value as ResumeRecord;
      }
    } catch { /* not JSON */ }
    return undefined;
  }
}
