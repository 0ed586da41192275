import type { UploadRows } from "../pg_info.ts";
import type { ObjectKeys } from "./keys.ts";
import type { S3Client } from "./s3_client.ts";

/** Rows looked up at once while sweeping the bucket. */
const SWEEP_BATCH = 500;

/**
 * Removes objects and multipart uploads older than `cutoff` that no row refers to (leftovers of
 * a crash, or of a removal whose S3 calls failed). Older than `cutoff`, no writer is still about
 * to record them. Returns how many went.
 */
export async function sweepBucket(
  s3: S3Client,
  rows: UploadRows,
  keys: ObjectKeys,
  cutoff: number,
): Promise<number> {
  let removed = 0;
  let batch: { key: string; id: string; tail: boolean }[] = [];
  const sweep = async () => {
    const found = await rows.some([...new Set(batch.map((o) => o.id))]);
    for (const o of batch) {
      const row = found.get(o.id);
      const orphan = !row || row.ended !== undefined || (o.tail ? row.tailKey !== o.key : false);
      if (orphan) {
        await s3.deleteObject(o.key);
        removed++;
      }
    }
    batch = [];
  };
  for await (const object of s3.listObjects(keys.prefix)) {
    const named = keys.parse(object.key);
    if (!named || object.lastModified >= cutoff) continue;
    batch.push({ key: object.key, ...named });
    if (batch.length >= SWEEP_BATCH) await sweep();
  }
  await sweep();
  for await (const upload of s3.listMultipartUploads(keys.prefix)) {
    const named = keys.parse(upload.key);
    if (!named || named.tail || upload.initiated >= cutoff) continue;
    const row = (await rows.some([named.id])).get(named.id);
    // Also a leftover of a completed upload (its abort after completion failed).
    const orphan = !row || row.ended !== undefined || row.completed ||
      row.multipartId !== upload.uploadId;
    if (orphan) {
      await s3.abortMultipartUpload(upload.key, upload.uploadId);
      removed++;
    }
  }
  return removed;
}

/** Removes buffer directories under `root` of other processes (not `own`) untouched since `cutoff`. */
export async function sweepBuffers(root: string, own: string, cutoff: number): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(root)) {
      const path = `${root}/${entry.name}`;
      if (path === own || !entry.isDirectory) continue;
      const stat = await Deno.stat(path).catch(() => undefined);
      if (stat && (stat.mtime?.getTime() ?? 0) < cutoff) {
        await Deno.remove(path, { recursive: true }).catch(() => {});
        removed++;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}
