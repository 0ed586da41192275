import { exists } from "./layout.ts";
import type { Syncer } from "./syncer.ts";

/**
 * Creates the fan-out directories under the store's root, making each parent's new entry durable,
 * and remembers which exist (at most 65,536 + 256 entries).
 */
export class FanOutDirs {
  readonly #root: string;
  readonly #sync: Syncer;
  readonly #made = new Map<string, Promise<void>>();

  constructor(root: string, sync: Syncer) {
    this.#root = root;
    this.#sync = sync;
  }

  /** `path` exists, durably, on return. */
  async ensure(path: string): Promise<void> {
    // One promise per directory: a request finding it being made waits until its entry is
    // durable (seeing it exist is not enough).
    let made = this.#made.get(path);
    if (!made) {
      made = this.#make(path);
      this.#made.set(path, made);
      made.catch(() => this.#made.delete(path));
    }
    await made;
  }

  /** Forgets what is known to exist (a directory was removed behind our back). */
  forget(): void {
    this.#made.clear();
  }

  async #make(path: string): Promise<void> {
    if (await exists(path)) return;
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    if (parent.length > this.#root.length) await this.ensure(parent);
    try {
      await Deno.mkdir(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    await this.#sync.dir(parent);
  }
}
