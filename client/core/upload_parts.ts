/** A parallel upload: tus partial uploads of consecutive ranges, then the final that joins them. */
import { H } from "../../lib/protocol.ts";
import { PIECE } from "./local_hash.ts";
import type { ResumeRecord } from "./resume_store.ts";
import { rangeSource, type UploadSource } from "./source.ts";
import { type Settings, Transfer, type TransferResult } from "./transfer.ts";
import type { UploadEvent } from "./upload_events.ts";

/**
 * N partial uploads of consecutive ranges, sent concurrently, then a final upload that
 * concatenates them. The resume record remembers each part (and the final) as soon as it exists.
 */
export async function uploadParts(
  source: UploadSource,
  settings: Settings,
  record: ResumeRecord,
  save: (record: ResumeRecord) => Promise<void>,
  parallel: number,
): Promise<Required<TransferResult>> {
  const n = record.parts?.length ?? parallel;
  const parts: (string | null)[] = record.parts ?? Array(n).fill(null);
  const size = source.size;
  const bounds = Array.from({ length: n + 1 }, (_, i) => Math.floor((size * i) / n));
  const acknowledged = Array(n).fill(0);
  const sent = Array(n).fill(0);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const progress = () =>
    settings.emit({
      type: "progress",
      acknowledged: sum(acknowledged),
      sent: sum(sent),
      total: size,
    });
  const transfers = parts.map((url, i) =>
    new Transfer(rangeSource(source, bounds[i]!, bounds[i + 1]!), {
      ...settings,
      metadata: {},
      emit: (event) => {
        if (event.type === "progress") {
          acknowledged[i] = event.acknowledged;
          sent[i] = event.sent;
          progress();
        } else if (event.type !== "completed") settings.emit({ ...event, part: i } as UploadEvent);
      },
    }, {
      ...(url ? { url } : {}),
      createHeaders: { [H.uploadConcat]: "partial" },
      hash: false,
      onCreated: (created) => {
        parts[i] = created;
        return save({ ...record, parts: [...parts] });
      },
    })
  );
  const done = await Promise.all(transfers.map((t) => t.run()));
  const urls = done.map((d) => d.url);
  // The local digests of the whole file: one sequential pass (parts can't be combined).
  const local = settings.hashing.digest();
  for (let at = 0; at < size; at += PIECE) await local.update(await source.read(at, PIECE));
  await source.check?.();
  const final = new Transfer(source, settings, {
    ...(record.url ? { url: record.url } : {}),
    createHeaders: { [H.uploadConcat]: `final;${urls.join(" ")}` },
    final: true,
    hash: false,
    onCreated: (url) => save({ ...record, url, parts: urls }),
  });
  const assembled = await final.run();
  return { url: assembled.url, local: await local.digest(), server: assembled.server };
}
