import type { Digests } from "../../lib/digest_header.ts";
import type {
  AppendOutcome,
  Budget,
  Ended,
  NewUpload,
  Spill,
  StorageLocation,
  UploadInfo,
  UploadStore,
} from "./types.ts";

/**
 * A store wrapper that keeps, in memory, how many bytes each owner holds (for `--quota`). An
 * upload counts as the larger of its declared length and its stored bytes, so a quota is checked
 * once at creation for known lengths and grows with the bytes of deferred ones. Built by reading
 * every upload's info once at start; kept exact by seeing every change go through.
 */
export class AccountedStore implements UploadStore {
  readonly #inner: UploadStore;
  readonly #quota: number;
  readonly #usage = new Map<string, number>();
  readonly #held = new Map<string, { owner: string; bytes: number; deferred: boolean }>();

  private constructor(inner: UploadStore, quota: number) {
    this.#inner = inner;
    this.#quota = quota;
  }

  /** Wraps `inner`; deferred-length writes are held to `quota` bytes per owner as they stream. */
  static async open(inner: UploadStore, quota = Infinity): Promise<AccountedStore> {
    const store = new AccountedStore(inner, quota);
    for await (const id of inner.list()) {
      const info = await inner.get(id);
      if (info && !info.ended) store.#account(id, info);
    }
    return store;
  }

  /** Bytes `owner` holds ("" for uploads made without auth). */
  of(owner: string): number {
    return this.#usage.get(owner) ?? 0;
  }

  #hold(id: string, owner: string, bytes: number, deferred: boolean): void {
    const before = this.#held.get(id)?.bytes ?? 0;
    this.#usage.set(owner, this.of(owner) + bytes - before);
    this.#held.set(id, { owner, bytes, deferred });
  }

  #account(id: string, info: UploadInfo): void {
    const bytes = Math.max(info.length ?? 0, info.offset);
    this.#hold(id, info.owner ?? "", bytes, info.length === undefined);
  }

  async create(upload: NewUpload): Promise<UploadInfo> {
    // Counted before the first await, so a check just before this call and this reservation
    // are one step: concurrent creations can't all slip under the quota.
    this.#hold(upload.id, upload.owner ?? "", upload.length ?? 0, upload.length === undefined);
    try {
      return await this.#inner.create(upload);
    } catch (error) {
      this.#forget(upload.id);
      throw error;
    }
  }

  /**
   * The allowance a write to `id` takes its bytes from: a deferred upload takes each chunk from
   * its owner's quota as it arrives, so concurrent streams of one owner see each other at once.
   * Undefined when nothing needs taking (a known length was counted at creation; no quota).
   */
  budget(id: string): Budget | undefined {
    const held = this.#held.get(id);
    if (!held?.deferred || !Number.isFinite(this.#quota)) return undefined;
    return {
      take: (n: number) => {
        const h = this.#held.get(id)!;
        const granted = Math.max(0, Math.min(n, this.#quota - this.of(h.owner)));
        this.#hold(id, h.owner, h.bytes + granted, true);
        return granted;
      },
      // Taken but not stored (a failed write, a discarded checksummed body): give back.
      settle: () => this.#settle(id),
    };
  }

  async append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome> {
    try {
      return await this.#inner.append(id, offset, body);
    } finally {
      await this.#settle(id);
    }
  }

  spill(id: string): Spill | undefined {
    return this.#inner.spill?.(id);
  }

  /** Counts `id` as its stored info says. */
  async #settle(id: string): Promise<void> {
    const info = await this.#inner.get(id).catch(() => undefined);
    if (info) this.#account(id, info);
  }

  async declareLength(id: string, length: number): Promise<void> {
    await this.#inner.declareLength(id, length);
    const info = await this.#inner.get(id);
    if (info) this.#account(id, info);
  }

  async remove(id: string, ended?: Ended): Promise<boolean> {
    const removed = await this.#inner.remove(id, ended);
    this.#forget(id);
    return removed;
  }

  #forget(id: string): void {
    const held = this.#held.get(id);
    if (!held) return;
    this.#hold(id, held.owner, 0, held.deferred);
    this.#held.delete(id);
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
  collectGarbage(cutoff: number, endedBefore?: number): Promise<number> {
    return this.#inner.collectGarbage?.(cutoff, endedBefore) ?? Promise.resolve(0);
  }
  location(id: string): StorageLocation | undefined {
    return this.#inner.location?.(id);
  }
}
