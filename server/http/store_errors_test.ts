import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { type AppendOutcome, StoreError, type StoreErrorKind } from "../store/types.ts";
import { CORRUPT_RECORD_MESSAGE, fromStore } from "./store_errors.ts";
import {
  assertTusError,
  bytes,
  Clock,
  createUpload,
  harness,
  patchRequest,
  request,
  TUS,
} from "./handlers/test_harness.ts";

Deno.test("a StoreError is answered with its kind's status, the kind as code, the store's message", () => {
  const told: [StoreErrorKind, number][] = [
    ["not-found", 404],
    ["gone", 410],
    ["part-gone", 410],
    ["incomplete", 409],
    ["in-progress", 409],
    ["conflict", 409],
  ];
  for (const [kind, status] of told) {
    const error = new StoreError(kind, `Upload x: ${kind}`);
    const e = fromStore(error);
    assert.ok(e instanceof UploadError, kind);
    assert.deepEqual([e.status, e.code, e.message, e.headers], [status, kind, error.message, {}]);
    assert.equal(e.cause, error);
  }
});

Deno.test("a corrupt record is a 500 that tells the client no path; the cause keeps them", () => {
  const error = new StoreError("corrupt-record", "Upload info /srv/x.info is damaged: remove it");
  const e = fromStore(error) as UploadError;
  assert.deepEqual([e.status, e.code, e.message], [500, "corrupt-record", CORRUPT_RECORD_MESSAGE]);
  assert.equal(e.cause, error);
});

Deno.test("unreachable storage is a 503 with Retry-After; other errors pass unchanged", () => {
  const e = fromStore(new StoreError("storage-unavailable", "Object storage is unavailable"));
  assert.ok(e instanceof UploadError);
  assert.deepEqual([e.status, e.code, e.message, e.headers], [
    503,
    "storage-unavailable",
    "Object storage is unavailable; retry shortly",
    { "Retry-After": "5" },
  ]);
  const other = new Error("boom");
  assert.equal(fromStore(other), other);
  const own = new UploadError(400, "bad-request", "no");
  assert.equal(fromStore(own), own);
});

/** A MemoryStore whose appends and reads fail with a given StoreError. */
class FailingStore extends MemoryStore {
  failure: StoreError | undefined;
  override append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome> {
    return this.failure ? Promise.reject(this.failure) : super.append(id, offset, body);
  }
  override read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    return this.failure ? Promise.reject(this.failure) : super.read(id, start, end);
  }
}

Deno.test("the handler answers a store's StoreError on the wire, with the PATCH's headers", async () => {
  const clock = new Clock();
  const store = new FailingStore(clock.now);
  const h = harness({ store, clock, config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 4 });
  store.failure = new StoreError("storage-unavailable", "Object storage is unavailable");
  const patch = await h.send(patchRequest(id, 0, bytes(4)));
  assertTusError(patch, 503);
  assert.equal(patch.text.trim(), "Object storage is unavailable; retry shortly");
  assert.equal(patch.headers.get("retry-after"), "5");
  assert.ok(patch.headers.get("upload-expires"), "a refused PATCH still says when it expires");

  store.failure = undefined;
  assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
  store.failure = new StoreError("in-progress", `Upload ${id} can be read once it is complete`);
  const get = await h.send(request("GET", `/files/${id}`, { headers: { ...TUS } }));
  assertTusError(get, 409);
  assert.equal(get.text.trim(), store.failure.message);
});
