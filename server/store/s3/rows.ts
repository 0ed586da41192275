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
    ...(row.length === undefined ? {} : { length: row.length }),
    offset,
    metadata: row.metadata,
    createdAt: row.createdAt,
    updatedAt: row.ended?.at ?? row.updatedAt,
    ...(row.digests && offset === row.length ? { digests: row.digests } : {}),
    ...(row.concat ? { concat: row.concat } : {}),
    ...(row.owner === undefined ? {} : { owner: row.owner }),
    ...(row.ended ? { ended: row.ended } : {}),
  };
}
