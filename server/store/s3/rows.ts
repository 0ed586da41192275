import { defined } from "../../../lib/defined.ts";
import type { UploadRow } from "../pg_info.ts";
import type { UploadInfo } from "../types.ts";

/** The committed offset: recorded parts plus recorded tail (the whole length once completed). */
export function offsetOf(row: UploadRow): number {
  if (row.ended) return 0;
  if (row.completed) return row.length ?? row.partsBytes + row.tailBytes;
  return row.partsBytes + row.tailBytes;
}

export function infoOf(row: UploadRow): UploadInfo {
  const offset = offsetOf(row);
  return {
    id: row.id,
    offset,
    metadata: row.metadata,
    createdAt: row.createdAt,
    updatedAt: row.ended?.at ?? row.updatedAt,
    ...defined({
      length: row.length,
      digests: offset === row.length ? row.digests : undefined,
      concat: row.concat,
      owner: row.owner,
      ended: row.ended,
    }),
  };
}
