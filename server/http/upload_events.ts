import { defined } from "../../lib/defined.ts";
import type { Context } from "./context.ts";
import type { Deps } from "./deps.ts";
import { HOOK_TYPE, hookEvent, type UploadEventName } from "../hooks/events.ts";
import { isComplete, type NewUpload, type UploadInfo } from "../store/types.ts";
import { uploadUrl } from "./urls.ts";

/**
 * An upload was created, completed, terminated or expired: counted in the metrics and, with hooks
 * on, handed to them (resolving once the event is queued on disk). The one call at each such place,
 * so metrics and hooks can't disagree. Never rejects: the upload has already changed.
 */
export async function uploadEvent(
  deps: Pick<Deps, "metrics" | "events" | "store" | "now">,
  event: UploadEventName,
  info: UploadInfo,
  url?: string,
): Promise<void> {
  deps.metrics.uploads.add(1, { event });
  // Unfinished uploads: every created one ends at most once (completed, terminated unfinished,
  // or expired), so these steps keep the gauge exact between sweeps, which recount it.
  if (event === "created") deps.metrics.activeUploads.add(1);
  else if (event !== "terminated" || !isComplete(info)) deps.metrics.activeUploads.add(-1);
  if (!deps.events) return;
  const storage = deps.store.location?.(info.id);
  await deps.events.emit(hookEvent(HOOK_TYPE[event], info, {
    now: deps.now(),
    ...defined({ url, storage }),
  }));
}

/**
 * The `pre-create` hook, with hooks on: the upload about to be created is shown to the receivers,
 * and a refusal is thrown as the `UploadError` the client gets.
 */
export async function preCreateHook(ctx: Context, upload: NewUpload): Promise<void> {
  const { events, now } = ctx.deps;
  if (!events) return;
  const info: UploadInfo = { ...upload, offset: 0, updatedAt: upload.createdAt };
  await events.preCreate(
    hookEvent("pre-create", info, { now: now(), url: uploadUrl(ctx, upload.id) }),
  );
}
