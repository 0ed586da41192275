import { defined } from "../../lib/defined.ts";
import { type Digests, DigestState } from "../../lib/deno/digest.ts";
import {
  type AppendOutcome,
  type Ended,
  gone,
  type NewUpload,
  notFound,
  partGone,
  type UploadInfo,
  type UploadStore,
} from "./types.ts";

interface Entry {
  upload: NewUpload;
  chunks: Uint8Array[];
  size: number;
  updatedAt: number;
  digests?: Digests;
  ended?: Ended;
}

/**
 * A real store kept in memory: same contract as the file store (it passes the same conformance
 * suite), used for fast handler tests. Not durable, by definition.
 */
export class MemoryStore implements UploadStore {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  create(upload: NewUpload): Promise<UploadInfo> {
    if (this.#entries.has(upload.id)) throw new Error(`Upload ${upload.id} exists`);
    const entry = { upload: { ...upload }, chunks: [], size: 0, updatedAt: this.#now() };
    this.#entries.set(upload.id, entry);
    return Promise.resolve(toInfo(entry));
  }

  get(id: string): Promise<UploadInfo | undefined> {
    const entry = this.#entries.get(id);
    return Promise.resolve(entry && toInfo(entry));
  }

  async append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome> {
    const entry = this.#entries.get(id);
    if (!entry) throw notFound(id);
    if (entry.size !== offset) return { kind: "offset-mismatch", offset: entry.size };
    if (body !== null) {
      for await (const chunk of body) {
        if (chunk.length === 0) continue;
        entry.chunks.push(chunk.slice());
        entry.size += chunk.length;
        entry.updatedAt = this.#now();
      }
    }
    return { kind: "appended", offset: entry.size };
  }

  finish(id: string): Promise<Digests> {
    const entry = this.#entries.get(id);
    if (!entry) return Promise.reject(notFound(id));
    if (!entry.digests) {
      const state = new DigestState();
      for (const c of entry.chunks) state.update(c);
      entry.digests = state.digest();
    }
    return Promise.resolve(entry.digests);
  }

  addFinal(partId: string, finalId: string): Promise<void> {
    const entry = this.#entries.get(partId);
    if (!entry || entry.ended) {
      return Promise.reject(partGone(partId));
    }
    const concat = entry.upload.concat;
    const finals = concat?.kind === "partial" ? concat.finals ?? [] : [];
    if (!finals.includes(finalId)) {
      entry.upload.concat = { kind: "partial", finals: [...finals, finalId] };
    }
    return Promise.resolve();
  }

  async assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    const entry = this.#entries.get(finalId);
    if (!entry) throw notFound(finalId);
    let base = 0;
    for (const part of parts) {
      const end = base + part.length;
      if (entry.size < end) {
        const bytes = await new Response(await this.read(part.id, entry.size - base, part.length))
          .arrayBuffer();
        entry.chunks.push(new Uint8Array(bytes));
        entry.size += bytes.byteLength;
        entry.updatedAt = this.#now();
      }
      base = end;
    }
    return entry.size;
  }

  declareLength(id: string, length: number): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry || entry.ended) return Promise.reject(gone(id));
    entry.upload.length = length;
    return Promise.resolve();
  }

  remove(id: string, ended?: Ended): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return Promise.resolve(false);
    const live = entry.ended === undefined;
    if (ended && live) {
      entry.chunks = [];
      entry.size = 0;
      delete entry.digests;
      entry.ended = { ...ended };
    } else if (!ended) {
      this.#entries.delete(id);
    }
    return Promise.resolve(live);
  }

  collectGarbage(cutoff: number, endedBefore = cutoff): Promise<number> {
    let removed = 0;
    for (const [id, entry] of this.#entries) {
      if (entry.ended && entry.ended.at < endedBefore) {
        this.#entries.delete(id);
        removed++;
      }
    }
    return Promise.resolve(removed);
  }

  read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    const entry = this.#entries.get(id);
    if (!entry) return Promise.reject(notFound(id));
    const all = new Uint8Array(entry.size);
    let at = 0;
    for (const c of entry.chunks) {
      all.set(c, at);
      at += c.length;
    }
    return Promise.resolve(new Blob([all.slice(start, end)]).stream());
  }

  async *list(): AsyncIterable<string> {
    yield* [...this.#entries.keys()];
  }

  /** Test helper: cut the stored bytes back, as an external truncation would. */
  truncate(id: string, size: number): void {
    const entry = this.#entries.get(id);
    if (!entry || size > entry.size) return;
    const all = new Uint8Array(entry.size);
    let at = 0;
    for (const c of entry.chunks) {
      all.set(c, at);
      at += c.length;
    }
    entry.chunks = [all.slice(0, size)];
    entry.size = size;
    delete entry.digests;
  }
}

function toInfo(entry: Entry): UploadInfo {
  return {
    ...entry.upload,
    offset: entry.size,
    updatedAt: entry.ended?.at ?? entry.updatedAt,
    ...defined({ digests: entry.digests, ended: entry.ended }),
  };
}
