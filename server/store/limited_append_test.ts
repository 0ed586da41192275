import assert from "node:assert/strict";
import { checksumOf, parseChecksum } from "../../lib/checksum.ts";
import { newUploadId } from "../../lib/ids.ts";
import { limitedAppend } from "./limited_append.ts";
import { MemoryStore } from "./memory_store.ts";
import type { AppendOutcome, AppendResult } from "./types.ts";

const never = new AbortController().signal;

/** True only when `T` has no key named `K`. */
type Lacks<T, K extends string> = K extends keyof T ? false : true;
// Neither what a store reports nor what the append path makes of it carries a response.
const storeOutcomeHasNoStatus: Lacks<AppendOutcome, "status" | "headers"> = true;
const appendResultHasNoStatus: Lacks<AppendResult, "status" | "headers"> = true;

function pieces(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

async function upload(store: MemoryStore, length?: number): Promise<string> {
  const id = newUploadId();
  await store.create({
    id,
    metadata: "",
    createdAt: 0,
    ...(length === undefined ? {} : { length }),
  });
  return id;
}

Deno.test("append outcomes are facts without a status: offset mismatch, past length, stopped", async () => {
  assert.ok(storeOutcomeHasNoStatus && appendResultHasNoStatus);
  const store = new MemoryStore();
  const id = await upload(store, 10);
  const mismatch = await limitedAppend(store, id, 4, pieces(new Uint8Array(3)), {
    maxBytes: 6,
    signal: never,
  });
  assert.deepEqual(mismatch, { offset: 0, overflow: false, stopped: false, offsetMismatch: true });

  const past = await limitedAppend(store, id, 0, pieces(new Uint8Array(8), new Uint8Array(8)), {
    maxBytes: 10,
    signal: never,
  });
  assert.deepEqual(past, { offset: 10, overflow: true, stopped: false });
  assert.equal((await store.get(id))?.offset, 10, "the excess is never stored");

  const other = await upload(store);
  const stop = new AbortController();
  let pulls = 0;
  const stalling = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (++pulls === 1) controller.enqueue(new Uint8Array(7));
      else stop.abort(); // and never another byte
    },
  });
  const stopped = await limitedAppend(store, other, 0, stalling, {
    maxBytes: 100,
    signal: stop.signal,
  });
  assert.deepEqual(stopped, { offset: 7, overflow: false, stopped: true });
  for (const result of [mismatch, past, stopped]) assert.ok(!("status" in result));
});

Deno.test("a budget is taken per chunk and settled once the append is over", async () => {
  const store = new MemoryStore();
  const id = await upload(store);
  let left = 5;
  let settled = 0;
  const budget = {
    take: (n: number) => {
      const granted = Math.min(n, left);
      left -= granted;
      return granted;
    },
    settle: () => {
      settled++;
      return Promise.resolve();
    },
  };
  const result = await limitedAppend(store, id, 0, pieces(new Uint8Array(3), new Uint8Array(3)), {
    maxBytes: 100,
    signal: never,
    budget,
  });
  assert.deepEqual(result, { offset: 5, overflow: true, stopped: false, overBudget: true });
  assert.equal(settled, 1);
});

Deno.test("a checksummed body the store never sees unless it matches", async () => {
  const store = new MemoryStore();
  const id = await upload(store, 6);
  const data = new Uint8Array([1, 2, 3, 4, 5, 6]);
  let appends = 0;
  const counting = Object.assign(Object.create(store), {
    append: (...args: Parameters<MemoryStore["append"]>) => {
      appends++;
      return store.append(...args);
    },
  }) as MemoryStore;
  const bad = await limitedAppend(counting, id, 0, pieces(data), {
    maxBytes: 6,
    signal: never,
    checksum: { expected: () => Promise.resolve(parseChecksum(checksumOf("md5", data.slice(1)))) },
  });
  assert.equal(bad.checksumMismatch, true);
  assert.equal(appends, 0, "a mismatched body never reaches the store");
  const good = await limitedAppend(counting, id, 0, pieces(data.subarray(0, 2), data.subarray(2)), {
    maxBytes: 6,
    signal: never,
    checksum: {
      algorithm: "md5",
      expected: () => Promise.resolve(parseChecksum(checksumOf("md5", data))),
    },
  });
  assert.equal(good.offset, 6);
  assert.equal(appends, 1);
});
