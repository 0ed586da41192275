import { defined } from "../../../lib/defined.ts";
import type { Digests } from "../../../lib/digest_header.ts";
import { corruptRecord } from "../corrupt_record.ts";
import type { Concat, Ended, NewUpload, UploadInfo } from "../types.ts";

/** The JSON kept in `<id>.info`. */
export interface InfoRecord {
  v: 1;
  id: string;
  length?: number;
  metadata: string;
  createdAt: number;
  digests?: Digests;
  concat?: Concat;
  owner?: string;
  ended?: Ended;
}

/** The info of a record whose data holds `offset` bytes, last written at `updatedAt`. */
export function infoOf(record: InfoRecord, offset: number, updatedAt: number): UploadInfo {
  return {
    id: record.id,
    offset,
    metadata: record.metadata,
    createdAt: record.createdAt,
    updatedAt,
    ...defined({
      length: record.length,
      // Digests describe the complete bytes; after an external truncation they are stale.
      digests: offset === record.length ? record.digests : undefined,
      concat: record.concat,
      owner: record.owner,
    }),
  };
}

export function toRecord(upload: NewUpload): InfoRecord {
  return {
    v: 1,
    id: upload.id,
    metadata: upload.metadata,
    createdAt: upload.createdAt,
    ...defined({ length: upload.length, concat: upload.concat, owner: upload.owner }),
  };
}

/**
 * An upload's info record. A missing or unreadable file throws the file system's error; text that
 * is not a record is a corrupt record naming both files.
 */
export async function readRecord(info: string, data: string): Promise<InfoRecord> {
  const text = await Deno.readTextFile(info);
  try {
    const record = JSON.parse(text);
    if (
      record?.v !== 1 || typeof record.id !== "string" || typeof record.metadata !== "string" ||
      typeof record.createdAt !== "number"
    ) throw new TypeError("not an upload info record");
    return record;
  } catch (error) {
    throw corruptRecord(`Upload info ${info}`, `remove or fix it; the data file is ${data}`, error);
  }
}
