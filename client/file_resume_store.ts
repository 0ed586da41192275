import { envVar } from "../lib/deno/env.ts";
import type { ResumeRecord, ResumeStore } from "./core/resume_store.ts";

/**
 * One small JSON file per fingerprint under the state directory, replaced atomically (temp file,
 * fsync, rename, fsync the directory), so concurrent uploads of different files never race and a
 * crash leaves either the old record or the new one.
 */
export class FileResumeStore implements ResumeStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  #path(fingerprint: string): string {
    if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new RangeError("Bad fingerprint");
    return `${this.dir}/${fingerprint}.json`;
  }

  async get(fingerprint: string): Promise<ResumeRecord | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(this.#path(fingerprint)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  async set(fingerprint: string, record: ResumeRecord): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    const path = this.#path(fingerprint);
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      const bytes = new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n");
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      await file.sync();
      await Deno.rename(tmp, path);
    } finally {
      await Deno.remove(tmp).catch(() => {}); // gone already after a successful rename
    }
    await this.#syncDir();
  }

  async delete(fingerprint: string): Promise<void> {
    try {
      await Deno.remove(this.#path(fingerprint));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    await this.#syncDir();
  }

  async #syncDir(): Promise<void> {
    using dir = await Deno.open(this.dir, { read: true });
    await dir.sync();
  }
}

/**
 * Where finished uploads are remembered, so `status FILE` can say a file is done and where it
 * went: the same kind of store, in `finished/` under the state directory.
 */
export function finishedStore(stateDir: string): FileResumeStore {
  return new FileResumeStore(`${stateDir}/finished`);
}

/** `--state-dir` default: $XDG_STATE_HOME/resumable, else ~/.local/state/resumable. */
export function defaultStateDir(): string {
  const xdg = envVar("XDG_STATE_HOME");
  if (xdg) return `${xdg}/resumable`;
  const home = envVar("HOME");
  return home ? `${home}/.local/state/resumable` : ".resumable-state";
}
