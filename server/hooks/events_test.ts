import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeMetadata } from "../../lib/metadata.ts";
import { HOOK_TYPE, hookEvent, hookHeaders } from "./events.ts";
import type { UploadInfo } from "../store/types.ts";

const AT = Date.UTC(2030, 0, 1);
const b64 = (algorithm: string, text: string) =>
  createHash(algorithm).update(text).digest("base64");
const hex = (algorithm: string, text: string) => createHash(algorithm).update(text).digest("hex");

function upload(overrides: Partial<UploadInfo> = {}): UploadInfo {
  return {
    id: "0123456789abcdef0123456789abcdef",
    length: 5,
    offset: 5,
    metadata: encodeMetadata({ filename: "a b.txt", secret: "$(touch /tmp/x)", flag: null }),
    createdAt: AT,
    updatedAt: AT,
    digests: { md5: b64("md5", "hello"), sha256: b64("sha256", "hello") },
    ...overrides,
  };
}

Deno.test("hookEvent carries id, owner, size, decoded metadata, hex digests, storage and url", () => {
  const event = hookEvent("post-finish", upload({ owner: "alice" }), {
    now: AT,
    url: "http://up.test/files/0123",
    storage: { type: "file", path: "/data/01/23/0123" },
  });
  assert.match(event.eventId, /^[0-9a-f-]{36}$/);
  assert.deepEqual({ ...event, eventId: "x" }, {
    eventId: "x",
    type: "post-finish",
    at: "2030-01-01T00:00:00.000Z",
    id: "0123456789abcdef0123456789abcdef",
    owner: "alice",
    size: 5,
    offset: 5,
    metadata: { filename: "a b.txt", secret: "$(touch /tmp/x)", flag: null },
    digests: { md5: hex("md5", "hello"), sha256: hex("sha256", "hello") },
    storage: { type: "file", path: "/data/01/23/0123" },
    url: "http://up.test/files/0123",
  });
});

Deno.test("hookEvent: no digests before completion, null size while deferred, null url unknown", () => {
  const { length: _, ...deferred } = upload({ offset: 2 });
  const event = hookEvent("post-create", deferred, { now: AT });
  assert.equal(event.size, null);
  assert.equal(event.digests, null);
  assert.equal(event.storage, null);
  assert.equal(event.url, null);
  assert.equal(event.owner, null);
});

Deno.test("hookEvent describes concatenation and gives every event its own id", () => {
  const info = upload({ concat: { kind: "final", parts: ["a", "b"] } });
  const one = hookEvent("post-create", info, { now: AT });
  const two = hookEvent("post-create", info, { now: AT });
  assert.deepEqual(one.concat, { kind: "final", parts: ["a", "b"] });
  assert.notEqual(one.eventId, two.eventId);
  const partial = hookEvent("post-create", upload({ concat: { kind: "partial", finals: ["f"] } }), {
    now: AT,
  });
  assert.deepEqual(partial.concat, { kind: "partial" });
});

Deno.test("every upload event has a hook type, and requests name it and the event id", () => {
  assert.deepEqual(Object.values(HOOK_TYPE), [
    "post-create",
    "post-finish",
    "post-terminate",
    "post-expire",
  ]);
  const event = hookEvent("post-expire", upload(), { now: AT });
  assert.deepEqual(hookHeaders(event), {
    "Content-Type": "application/json",
    "Hook-Type": "post-expire",
    "Idempotency-Key": event.eventId,
  });
});
