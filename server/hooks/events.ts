/**
 * Upload events as hooks see them: one JSON object per event, the same shape for every type, built
 * from an upload's info. Pure (no `Deno.*`): the handlers build events; `server/hooks/hooks.ts`
 * delivers them.
 */
import { base64ToHex } from "../../lib/digest_header.ts";
import { decodeMetadata, type Metadata } from "../../lib/metadata.ts";
import type { StorageLocation, UploadInfo } from "../store/types.ts";

/** What happened to an upload, as the metrics count it. */
export type UploadEventName = "created" | "completed" | "terminated" | "expired";

/** The hook types: `pre-create` may refuse a creation; the others report what happened. */
export type HookType =
  | "pre-create"
  | "post-create"
  | "post-finish"
  | "post-terminate"
  | "post-expire";

/** The hook each upload event is announced as. */
export const HOOK_TYPE: Record<UploadEventName, HookType> = {
  created: "post-create",
  completed: "post-finish",
  terminated: "post-terminate",
  expired: "post-expire",
};

/** The JSON body a hook receives. */
export interface HookEvent {
  /** Unique per event (not per attempt): delivery is at-least-once, so receivers dedupe on it. */
  eventId: string;
  type: HookType;
  /** When the event happened (ISO 8601). */
  at: string;
  /** The upload id (for `pre-create`, the id the upload will have if it is allowed). */
  id: string;
  /** The `sub` of the token that created it; null without auth. */
  owner: string | null;
  /** Declared length in bytes; null while deferred. */
  size: number | null;
  /** Bytes stored when the event happened. */
  offset: number;
  /** `Upload-Metadata`, decoded to UTF-8 strings (null for a key without a value). */
  metadata: Metadata;
  /** Whole-upload digests in hex, once complete; else null. */
  digests: { md5: string; sha256: string } | null;
  /** Where the bytes live (or lived, for `post-terminate` / `post-expire`); null if unknown. */
  storage: StorageLocation | null;
  /** The upload's URL as its client saw it; null where no request is involved (`post-expire`). */
  url: string | null;
  /** tus concatenation: a partial upload, or a final one made of `parts`. */
  concat?: { kind: "partial" } | { kind: "final"; parts: string[] };
}

/**
 * What the handlers see of the hooks. `preCreate` throws an `UploadError` to refuse a creation;
 * `emit` persists a post-* event for delivery and never rejects (a failure is logged and counted:
 * the upload itself has already happened).
 */
export interface UploadEvents {
  preCreate(event: HookEvent): Promise<void>;
  emit(event: HookEvent): Promise<void>;
}

export interface EventContext {
  /** The upload's URL, when a request is involved. */
  url?: string;
  storage?: StorageLocation;
  /** Milliseconds since the epoch. */
  now: number;
}

/** Builds the event of `type` for `info` (stored, or about to be created). */
export function hookEvent(type: HookType, info: UploadInfo, context: EventContext): HookEvent {
  const digests = info.length !== undefined && info.offset === info.length && info.digests
    ? { md5: base64ToHex(info.digests.md5), sha256: base64ToHex(info.digests.sha256) }
    : null;
  return {
    eventId: crypto.randomUUID(),
    type,
    at: new Date(context.now).toISOString(),
    id: info.id,
    owner: info.owner ?? null,
    size: info.length ?? null,
    offset: info.offset,
    metadata: metadataOf(info.metadata),
    digests,
    storage: context.storage ?? null,
    url: context.url ?? null,
    ...(info.concat
      ? {
        concat: info.concat.kind === "final"
          ? { kind: "final", parts: [...info.concat.parts] }
          : { kind: "partial" },
      }
      : {}),
  };
}

/** Headers of every hook request: the type, and the event id as an idempotency key. */
export function hookHeaders(event: HookEvent): Record<string, string> {
  return {
    "Content-Type": "application/json",
    "Hook-Type": event.type,
    "Idempotency-Key": event.eventId,
  };
}

/** Metadata was validated at creation; a header that no longer parses is reported as {}. */
function metadataOf(header: string): Metadata {
  try {
    return decodeMetadata(header);
  } catch {
    return {};
  }
}
