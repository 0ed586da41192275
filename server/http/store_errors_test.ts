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
    ["storage-full", 507],
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

const FULL = "The server's storage is full; try again later";
const VANISHED = "The upload no longer exists";

Deno.test("a file-system failure a store lets through is answered as the kind it stands for", () => {
  const told: [Error, number, StoreErrorKind, string][] = [
    [osError("ENOSPC"), 507, "storage-full", FULL],
    [osError("EDQUOT"), 507, "storage-full", FULL],
    [osError("ENOENT"), 404, "not-found", VANISHED],
    [new Deno.errors.NotFound("/srv/ab/x.info"), 404, "not-found", VANISHED],
  ];
  for (const [error, status, code, message] of told) {
    const e = fromStore(error);
    assert.ok(e instanceof UploadError, code);
    // The OS's message names server paths: the client gets a fixed one, the log (cause) keeps it.
    assert.deepEqual([e.status, e.code, e.message], [status, code, message]);
    assert.equal(e.cause, error);
  }
});

/** A failure as Deno's file system reports it: a `code`, and a message naming a path. */
function osError(code: string): Error {
  return Object.assign(new Error(`${code}: /srv/ab/x`), { code });
}

/** A MemoryStore whose appends and reads fail with a given error. */
class FailingStore extends MemoryStore {
  failure: Error | undefined;
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

Deno.test("the handler answers a full disk and a vanished file as the store's kinds, on the wire", async () => {
  const clock = new Clock();
  const store = new FailingStore(clock.now);
  const h = harness({ store, clock });
  const id = await createUpload(h, { length: 8 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
  const done = await createUpload(h, { length: 4 });
  assert.equal((await h.send(patchRequest(done, 0, bytes(4)))).status, 204);
  store.failure = osError("ENOSPC");
  const patch = await h.send(patchRequest(id, 4, bytes(4)));
  assertTusError(patch, 507);
  assert.equal(patch.text.trim(), FULL);
  assert.equal(patch.headers.get("upload-offset"), "4", "where to resume once there is room");
  assert.deepEqual(h.logged, [store.failure], "the cause, path and all, is logged");

  store.failure = new Deno.errors.NotFound("/srv/ab/x.bin");
  const get = await h.send(request("GET", `/files/${done}`, { headers: { ...TUS } }));
  assertTusError(get, 404);
  assert.equal(get.text.trim(), VANISHED);
});
