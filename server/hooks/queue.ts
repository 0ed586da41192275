/**
 * The hook events not yet delivered, one file per event in `<dir>/.hooks/`, so they survive a
 * restart or a crash. A file holds the event and the receivers still owed it:
 *
 *     000001718000000000-000042-<eventId>.json   {"v":1,"urls":["http://…"],"event":{…}}
 *
 * Names sort in the order events were queued. A new file is written atomically and durably (temp
 * file, fsync, rename, fsync the directory) before `push` resolves. When one of several receivers
 * has it, the file is replaced without the directory fsync, and a delivered event's file is removed
 * the same way: a crash may undo either, and the event is then delivered again — which
 * at-least-once allows. Only names and pending receivers are kept in memory; the event is read back
 * from its file for each attempt.
 */
import type { HookEvent } from "./events.ts";

const SUFFIX = ".json";
const TMP_SUFFIX = ".tmp";

export interface QueueEntry {
  /** File name, also the entry's key; sorts in queueing order. */
  readonly name: string;
  /** Receivers still owed the event. */
  readonly pending: readonly string[];
}

interface Stored {
  v: 1;
  urls: string[];
  event: HookEvent;
}

export interface QueueOptions {
  /** Most events kept; pushing past it drops the oldest. */
  max: number;
  /** The receivers configured now; entries for others are dropped at open. */
  urls: string[];
  /** Hears every event dropped (queue full, receiver no longer configured, unreadable file). */
  onDrop?: (name: string, reason: string) => void;
  /** Hears the new size after every change. */
  onSize?: (size: number) => void;
}

export class HookQueue {
  readonly dir: string;
  readonly #entries = new Map<string, { name: string; pending: string[] }>();
  readonly #options: QueueOptions;
  #seq = 0;
  #chain: Promise<void> = Promise.resolve();

  private constructor(dir: string, options: QueueOptions) {
    this.dir = dir;
    this.#options = options;
  }

  /** Opens (creating if needed) the queue in `dir` and picks up what an earlier run left. */
  static async open(dir: string, options: QueueOptions): Promise<HookQueue> {
    await Deno.mkdir(dir, { recursive: true });
    const queue = new HookQueue(dir, options);
    await queue.#load();
    return queue;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entries, oldest first. */
  entries(): IterableIterator<QueueEntry> {
    return this.#entries.values();
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Queues `event` for `urls`, durably; drops the oldest events past the bound. */
  async push(event: HookEvent, urls: string[]): Promise<void> {
    if (urls.length === 0) return;
    const name = `${String(Date.now()).padStart(15, "0")}-${
      String(this.#seq++ % 1_000_000).padStart(6, "0")
    }-${event.eventId.replace(/[^A-Za-z0-9-]/g, "")}${SUFFIX}`;
    await this.#write(name, { v: 1, urls, event }, true);
    await this.#serial(async () => {
      this.#entries.set(name, { name, pending: [...urls] });
      await this.#trim();
    });
  }

  /** The event of an entry, read from its file; undefined once it is gone. */
  async read(name: string): Promise<HookEvent | undefined> {
    if (!this.#entries.has(name)) return undefined;
    try {
      return (JSON.parse(await Deno.readTextFile(`${this.dir}/${name}`)) as Stored).event;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** Records that `url` has the event; the entry goes once every receiver has it. */
  delivered(name: string, url: string): Promise<void> {
    return this.#serial(async () => {
      const entry = this.#entries.get(name);
      if (!entry || !entry.pending.includes(url)) return;
      entry.pending = entry.pending.filter((u) => u !== url);
      if (entry.pending.length === 0) {
        await this.#remove(name);
      } else {
        const event = await this.read(name);
        if (event) await this.#write(name, { v: 1, urls: entry.pending, event }, false);
      }
    });
  }

  /** Changes to entries run one at a time, so two receivers' results can't undo each other. */
  #serial(change: () => Promise<void>): Promise<void> {
    const done = this.#chain.then(change).finally(() => this.#changed());
    this.#chain = done.catch(() => {});
    return done;
  }

  /** Drops the oldest entries past the bound. */
  async #trim(): Promise<void> {
    while (this.#entries.size > this.#options.max) {
      const oldest = this.#entries.keys().next().value!;
      await this.#remove(oldest);
      this.#options.onDrop?.(oldest, `the queue holds more than ${this.#options.max} events`);
    }
  }

  async #remove(name: string): Promise<void> {
    this.#entries.delete(name);
    await Deno.remove(`${this.dir}/${name}`).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  async #load(): Promise<void> {
    const names: string[] = [];
    for await (const f of Deno.readDir(this.dir)) {
      if (!f.isFile) continue;
      if (f.name.endsWith(TMP_SUFFIX)) {
        // A write cut short by a crash: its event was never acknowledged as queued.
        await Deno.remove(`${this.dir}/${f.name}`).catch(() => {});
      } else if (f.name.endsWith(SUFFIX)) {
        names.push(f.name);
      }
    }
    names.sort();
    const configured = new Set(this.#options.urls);
    for (const name of names) {
      let stored: Stored;
      try {
        stored = JSON.parse(await Deno.readTextFile(`${this.dir}/${name}`));
        if (!Array.isArray(stored.urls) || typeof stored.event?.type !== "string") {
          throw new SyntaxError("not a queued event");
        }
      } catch (error) {
        // Kept aside for a look, out of the queue.
        await Deno.rename(`${this.dir}/${name}`, `${this.dir}/${name}.unreadable`).catch(() => {});
        this.#options.onDrop?.(name, `unreadable: ${(error as Error).message}`);
        continue;
      }
      const pending = stored.urls.filter((u) => configured.has(u));
      if (pending.length < stored.urls.length) {
        this.#options.onDrop?.(name, "its receiver is no longer a --hook-url");
      }
      if (pending.length === 0) {
        await Deno.remove(`${this.dir}/${name}`).catch(() => {});
        continue;
      }
      if (pending.length < stored.urls.length) {
        await this.#write(name, { ...stored, urls: pending }, false);
      }
      this.#entries.set(name, { name, pending });
    }
    await this.#trim();
    this.#changed();
  }

  /** Replaces `name` atomically; `durable` also fsyncs the directory (a new entry). */
  async #write(name: string, stored: Stored, durable: boolean): Promise<void> {
    const path = `${this.dir}/${name}`;
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}${TMP_SUFFIX}`;
    try {
      using file = await Deno.open(tmp, { createNew: true, write: true });
      const bytes = new TextEncoder().encode(JSON.stringify(stored));
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      await file.sync();
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw error;
    }
    await Deno.rename(tmp, path);
    if (durable) {
      using dir = await Deno.open(this.dir, { read: true });
      await dir.sync();
    }
  }

  #changed(): void {
    this.#options.onSize?.(this.#entries.size);
  }
}
