import { isUploadId } from "../../../lib/ids.ts";

const TAIL_MARK = ".tail-";

/** The object keys of uploads in the bucket: `<prefix><id>`, and its tails `<prefix><id>.tail-*`. */
export class ObjectKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The object an upload ends up as (and the key of its multipart upload). */
  object(id: string): string {
    return `${this.prefix}${id}`;
  }

  /** A fresh key for an upload's tail. */
  newTail(id: string): string {
    return `${this.object(id)}${TAIL_MARK}${crypto.randomUUID().slice(0, 8)}`;
  }

  /** The upload id of a key of ours (its object, or one of its tails), else undefined. */
  parse(key: string): { id: string; tail: boolean } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const name = key.slice(this.prefix.length);
    const mark = name.indexOf(TAIL_MARK);
    const id = mark < 0 ? name : name.slice(0, mark);
    return isUploadId(id) ? { id, tail: mark >= 0 } : undefined;
  }
}
