/**
 * The file store's garbage collection: records of uploads that ended before `endedBefore`, and
 * orphans (temp files, data without a record) last touched before `cutoff`.
 */
import { readRecord } from "./info_record.ts";
import { basename, exists, INFO_SUFFIX, TMP_SUFFIX, walk } from "./layout.ts";

/** Removes what is collectable under `dir`; returns how many files went. */
export async function collectGarbage(
  dir: string,
  cutoff: number,
  endedBefore = cutoff,
): Promise<number> {
  let removed = 0;
  for await (const path of walk(dir)) {
    const name = basename(path);
    if (name.endsWith(INFO_SUFFIX)) {
      // A damaged record is not collected: its repair is the operator's (requests log it).
      const record = await readRecord(path, path.slice(0, -INFO_SUFFIX.length)).catch(() =>
        undefined
      );
      if (record?.ended && record.ended.at < endedBefore) {
        await Deno.remove(path).catch(() => {});
        removed++;
      }
      continue;
    }
    const orphan = name.endsWith(TMP_SUFFIX) ||
      (!name.includes(".") && !(await exists(path + INFO_SUFFIX)));
    if (!orphan) continue;
    const stat = await Deno.stat(path).catch(() => undefined);
    if (stat && (stat.mtime?.getTime() ?? 0) < cutoff) {
      await Deno.remove(path).catch(() => {});
      removed++;
    }
  }
  return removed;
}
