import type { GroupSync } from "./group_sync.ts";
import { TMP_SUFFIX } from "./layout.ts";
import { WRITE_BUFFER, writeAll } from "../write_buffer.ts";

/** Small bodies (and all metadata) use the group commit; a bigger append fsyncs its own file. */
const GROUP_DATA_MAX = WRITE_BUFFER;

/**
 * How writes are made durable: with a GroupSync, by a shared syncfs of the filesystem (each
 * caller waits for one that starts after its writes); without, by fsyncing each file and
 * directory. The order of durable steps is the same either way.
 */
export class Syncer {
  readonly group: GroupSync | undefined;

  constructor(group: GroupSync | undefined) {
    this.group = group;
  }

  /** The data appended to `file` (`bytes` of it) is durable on return. */
  async data(file: Deno.FsFile, bytes: number): Promise<void> {
    if (this.group && bytes <= GROUP_DATA_MAX) await this.group.sync();
    else await file.syncData();
  }

  /** `path`'s entries (created, renamed, removed files) are durable on return. */
  async dir(path: string): Promise<void> {
    if (this.group) return await this.group.sync();
    using dir = await Deno.open(path, { read: true });
    await dir.sync();
  }

  /**
   * Replaces `path` with `record` as JSON, atomically: writes a temp file, makes it durable,
   * renames it over. Never torn, even across a crash; the caller makes the rename durable
   * (`dir`) when it must be.
   */
  async replace(path: string, record: unknown): Promise<void> {
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}${TMP_SUFFIX}`;
    try {
      using file = await Deno.open(tmp, { createNew: true, write: true });
      await writeAll(file, new TextEncoder().encode(JSON.stringify(record)));
      if (this.group) await this.group.sync();
      else await file.sync();
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw error;
    }
    await Deno.rename(tmp, path);
  }
}
