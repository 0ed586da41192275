import { limitBody } from "./body.ts";
import { stage } from "./staging.ts";
import type {
  AppendOptions,
  AppendOutcome,
  AppendResult,
  ChecksumCheck,
  UploadStore,
} from "./types.ts";
import type { BodyOutcome } from "./body.ts";
import { defined } from "../../lib/defined.ts";

/**
 * The append path's one place for limits: the body goes through `limitBody` (size, budget,
 * signal, idle and rate), a checksummed body is staged and verified before the store sees a byte
 * of it, and the store only copies what is let through. Reports facts; the caller maps them to
 * statuses.
 */
export async function limitedAppend(
  store: UploadStore,
  id: string,
  offset: number,
  body: ReadableStream<Uint8Array> | null,
  options: AppendOptions,
): Promise<AppendResult> {
  if (body === null) return resultOf(await store.append(id, offset, null), undefined);
  const limited = limitBody(body, options);
  try {
    if (!options.checksum) {
      return resultOf(await store.append(id, offset, limited.stream), limited.outcome);
    }
    return await appendVerified(
      store,
      id,
      offset,
      limited.stream,
      limited.outcome,
      options.checksum,
    );
  } finally {
    limited.close();
    await options.budget?.settle();
  }
}

/** Stages the whole body, verifies it, and only then appends it: all of it or none. */
async function appendVerified(
  store: UploadStore,
  id: string,
  offset: number,
  body: ReadableStream<Uint8Array>,
  limits: BodyOutcome,
  checksum: ChecksumCheck,
): Promise<AppendResult> {
  const staged = await stage(body, checksum.algorithm, store.spill?.(id));
  try {
    // A partial body can't be verified.
    if (limits.overflow || limits.stopped || limits.bodyError !== undefined) {
      return { ...limitsOf(limits), offset };
    }
    if (!staged.matches(await checksum.expected())) {
      return { ...limitsOf(limits), offset, checksumMismatch: true };
    }
    return resultOf(await store.append(id, offset, staged.stream()), limits);
  } finally {
    await staged.discard();
  }
}

function resultOf(outcome: AppendOutcome, limits: BodyOutcome | undefined): AppendResult {
  const base = limits ? limitsOf(limits) : { overflow: false, stopped: false };
  switch (outcome.kind) {
    case "appended":
      return { ...base, offset: outcome.offset };
    case "offset-mismatch":
      return { ...base, offset: outcome.offset, offsetMismatch: true };
    case "no-room":
      return { ...base, offset: outcome.offset, noRoom: outcome.reason };
  }
}

function limitsOf(limits: BodyOutcome): Omit<AppendResult, "offset"> {
  return {
    overflow: limits.overflow,
    stopped: limits.stopped,
    ...(limits.idle ? { idle: true } : {}),
    ...(limits.overBudget ? { overBudget: true } : {}),
    ...defined({ bodyError: limits.bodyError }),
  };
}
