import type { Digests } from "../../lib/digest.ts";
import type { AppendOptions, AppendResult, NewUpload, UploadInfo, UploadStore } from "./types.ts";

/**
 * A store wrapper that keeps, in memory, how many bytes each owner holds (for `--quota`). An
 * upload counts as the larger of its declared length and its stored bytes, so a quota is checked
 * once at creation for known lengths and grows with the bytes of deferred ones. Built by reading
 * every upload's info once at start; kept exact by seeing every change go through.
 */
export class AccountedStore implements UploadStore {
  readonly #inner: UploadStore;
  readonly #usage = new Map<string, number>();
  readonly #held = new Map<string, { owner: string; bytes: number }>();

  private constructor(inner: UploadStore) {
    this.#inner = inner;
  }

  static async open(inner: UploadStore): Promise<AccountedStore> {
    const store = new AccountedStore(inner);
    for await (const id of inner.list()) {
      const info = await inner.get(id);
      if (info) store.#hold(id, info.owner ?? "", Math.max(info.length ?? 0, info.offset));
    }
    return store;
  }

  /** Bytes `owner` holds ("" for uploads made without auth). */
  of(owner: string): number {
    return this.#usage.get(owner) ?? 0;
  }

  #hold(id: string, owner: string, bytes: number): void {
    const before = this.#held.get(id)?.bytes ?? 0;
    this.#usage.set(owner, this.of(owner) + bytes - before);
    this.#held.set(id, { owner, bytes });
  }

  #grow(id: string, bytes: number): void {
    const held = this.#held.get(id);
    if (held && bytes > held.bytes) this.#hold(id, held.owner, bytes);
  }

  async create(upload: NewUpload): Promise<UploadInfo> {
    const info = await this.#inner.create(upload);
    this.#hold(upload.id, upload.owner ?? "", upload.length ?? 0);
    return info;
  }

  async append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
    options: AppendOptions,
  ): Promise<AppendResult> {
    const result = await this.#inner.append(id, offset, body, options);
    this.#grow(id, result.offset);
    return result;
  }

  async declareLength(id: string, length: number): Promise<void> {
    await this.#inner.declareLength(id, length);
    this.#grow(id, length);
  }

  async remove(id: string): Promise<boolean> {
    const removed = await this.#inner.remove(id);
    const held = this.#held.get(id);
    if (held) {
      this.#hold(id, held.owner, 0);
      this.#held.delete(id);
    }
    return removed;
  }

  get(id: string): Promise<UploadInfo | undefined> {
    return this.#inner.get(id);
  }
  finish(id: string): Promise<Digests> {
    return this.#inner.finish(id);
  }
  addFinal(partId: string, finalId: string): Promise<void> {
    return this.#inner.addFinal(partId, finalId);
  }
  assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    return this.#inner.assemble(finalId, parts);
  }
  read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    return this.#inner.read(id, start, end);
  }
  list(): AsyncIterable<string> {
    return this.#inner.list();
  }
  collectGarbage(cutoff: number): Promise<number> {
    return this.#inner.collectGarbage?.(cutoff) ?? Promise.resolve(0);
  }
}
