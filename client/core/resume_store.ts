/** Where the client remembers unfinished uploads: fingerprint → upload URL. */
export interface ResumeRecord {
  url: string;
  endpoint: string;
  size: number;
  createdAt: number;
  /** For files: the path it was uploaded from (for `status FILE` and people reading the store). */
  path?: string;
  /** A parallel upload: its partial uploads' URLs (null until created); `url` is the final's. */
  parts?: (string | null)[];
  /** When it finished (ms since the epoch): set only in the CLI's record of finished uploads. */
  finishedAt?: number;
}

export interface ResumeStore {
  get(fingerprint: string): Promise<ResumeRecord | undefined>;
  set(fingerprint: string, record: ResumeRecord): Promise<void>;
  delete(fingerprint: string): Promise<void>;
}

/** A store that lasts as long as the process: for tests and embedding. */
export class MemoryResumeStore implements ResumeStore {
  readonly #records = new Map<string, ResumeRecord>();
  get(fingerprint: string) {
    return Promise.resolve(this.#records.get(fingerprint));
  }
  set(fingerprint: string, record: ResumeRecord) {
    this.#records.set(fingerprint, record);
    return Promise.resolve();
  }
  delete(fingerprint: string) {
    this.#records.delete(fingerprint);
    return Promise.resolve();
  }
}
