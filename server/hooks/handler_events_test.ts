/** The handlers and the sweep tell the hooks what happens to uploads, and pre-create can refuse. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { UploadError } from "../../lib/errors.ts";
import { sweepExpired } from "../http/expiry.ts";
import { MemoryLocker } from "../lock/locker.ts";
import { Metrics } from "../http/metrics.ts";
import { AccountedStore } from "../store/accounted_store.ts";
import { MemoryStore } from "../store/memory_store.ts";
import {
  b64,
  bytes,
  Clock,
  harness,
  idOf,
  patchRequest,
  request,
  TUS,
} from "../http/handlers/test_harness.ts";
import type { HookEvent, UploadEvents } from "./events.ts";
import { waitFor } from "../../tests/helpers/wait.ts";

/** A fake of the hooks: records what it is told; `refuse` / `gate` shape pre-create. */
class RecordedEvents implements UploadEvents {
  readonly emitted: HookEvent[] = [];
  readonly asked: HookEvent[] = [];
  refuse: UploadError | undefined;
  gate: Promise<void> | undefined;
  async preCreate(event: HookEvent): Promise<void> {
    this.asked.push(event);
    await this.gate;
    if (this.refuse) throw this.refuse;
  }
  emit(event: HookEvent): Promise<void> {
    this.emitted.push(event);
    return Promise.resolve();
  }
  types(): string[] {
    return this.emitted.map((e) => e.type);
  }
}

const hex = (algorithm: string, data: Uint8Array) =>
  createHash(algorithm).update(data).digest("hex");

Deno.test("POST asks pre-create with the would-be upload, then announces post-create for that id", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "10", "Upload-Metadata": `filename ${b64("a.txt")}` },
  }));
  assert.equal(res.status, 201, res.text);
  const id = idOf(res.headers.get("location"));
  assert.equal(events.asked.length, 1);
  const asked = events.asked[0]!;
  assert.equal(asked.type, "pre-create");
  assert.equal(asked.id, id, "pre-create sees the id the upload then gets");
  assert.equal(asked.size, 10);
  assert.equal(asked.url, `http://up.test/files/${id}`);
  assert.deepEqual(asked.metadata, { filename: "a.txt" });
  assert.deepEqual(events.types(), ["post-create"]);
  const created = events.emitted[0]!;
  assert.equal(created.id, id);
  assert.equal(created.offset, 0);
  assert.equal(created.digests, null);
  assert.equal(created.url, `http://up.test/files/${id}`);
  assert.notEqual(created.eventId, asked.eventId);
});

Deno.test("a refusing pre-create reaches the client with its status and message, and nothing is created", async () => {
  const events = new RecordedEvents();
  events.refuse = new UploadError(403, "hook-refused", "no videos", {
    headers: { "Retry-After": "60" },
  });
  const metrics = new Metrics();
  const h = harness({ events, metrics });
  const tus = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "10" },
  }));
  assert.equal(tus.status, 403);
  assert.equal(tus.text, "no videos\n");
  assert.equal(tus.headers.get("retry-after"), "60");
  const plain = await h.send(request("POST", "/files", {
    headers: { "Upload-Length": "10" },
    body: null,
  }));
  assert.equal(plain.status, 403);
  assert.deepEqual(JSON.parse(plain.text), {
    error: { code: "hook-refused", message: "no videos" },
  });
  const withBody = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "3",
      "Content-Type": "application/offset+octet-stream",
      "Content-Length": "3",
    },
    body: bytes(3),
  }));
  assert.equal(withBody.status, 403);
  for await (const _ of h.store.list()) assert.fail("a refused upload was stored");
  assert.deepEqual(events.emitted, []);
  assert.doesNotMatch(metrics.render(), /resumable_uploads_total\{/);
});

Deno.test("an invalid POST is refused before pre-create is asked", async () => {
  const events = new RecordedEvents();
  const h = harness({ events, config: { maxSize: 100 } });
  const bad = [
    { ...TUS, "Upload-Length": "1000" },
    { ...TUS, "Upload-Length": "10", "Upload-Metadata": "bad key!" },
    { ...TUS },
  ];
  for (const headers of bad) {
    assert.equal((await h.send(request("POST", "/files", { headers }))).status >= 400, true);
  }
  assert.deepEqual(events.asked, []);
});

Deno.test("quota is checked again after pre-create: two creations waiting on the hook can't both fit", async () => {
  const clock = new Clock();
  const store = await AccountedStore.open(new MemoryStore(clock.now), 1000);
  const events = new RecordedEvents();
  const gate = Promise.withResolvers<void>();
  events.gate = gate.promise;
  const h = harness({ store, clock, usage: store, events, config: { quota: 1000 } });
  const create = () =>
    h.send(request("POST", "/files", { headers: { ...TUS, "Upload-Length": "600" } }));
  const both = Promise.all([create(), create()]);
  await waitFor(() => events.asked.length === 2, { message: "both creations at the hook" });
  gate.resolve();
  const statuses = (await both).map((r) => r.status).sort();
  assert.deepEqual(statuses, [201, 413]);
  assert.equal(store.of(""), 600);
});

Deno.test("post-create and post-finish for a creation that brings every byte, with hex digests", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const data = bytes(5);
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "5",
      "Content-Type": "application/offset+octet-stream",
      "Content-Length": "5",
    },
    body: data,
  }));
  assert.equal(res.status, 201);
  assert.deepEqual(events.types(), ["post-create", "post-finish"]);
  const done = events.emitted[1]!;
  assert.equal(done.offset, 5);
  assert.deepEqual(done.digests, { md5: hex("md5", data), sha256: hex("sha256", data) });
});

Deno.test("PATCH announces post-finish once, when the last byte arrives", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const id = idOf(
    (await h.send(request("POST", "/files", { headers: { ...TUS, "Upload-Length": "6" } })))
      .headers.get("location"),
  );
  assert.equal((await h.send(patchRequest(id, 0, bytes(3)))).status, 204);
  assert.deepEqual(events.types(), ["post-create"]);
  assert.equal((await h.send(patchRequest(id, 3, bytes(3, 3)))).status, 204);
  assert.equal((await h.send(patchRequest(id, 6, bytes(0)))).status, 204); // nothing new
  assert.deepEqual(events.types(), ["post-create", "post-finish"]);
  const done = events.emitted[1]!;
  assert.equal(done.id, id);
  assert.equal(done.size, 6);
  assert.deepEqual(done.digests, { md5: hex("md5", bytes(6)), sha256: hex("sha256", bytes(6)) });
});

Deno.test("DELETE announces post-terminate with the upload as it was", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const id = idOf(
    (await h.send(request("POST", "/files", { headers: { ...TUS, "Upload-Length": "6" } })))
      .headers.get("location"),
  );
  await h.send(patchRequest(id, 0, bytes(2)));
  assert.equal((await h.send(request("DELETE", `/files/${id}`, { headers: TUS }))).status, 204);
  assert.deepEqual(events.types(), ["post-create", "post-terminate"]);
  assert.equal(events.emitted[1]!.offset, 2);
  assert.equal(events.emitted[1]!.url, `http://up.test/files/${id}`);
});

Deno.test("a final upload is checked by pre-create and announced when assembled", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const part = async (data: Uint8Array<ArrayBuffer>) => {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Length": String(data.length), "Upload-Concat": "partial" },
    }));
    const id = idOf(res.headers.get("location"));
    assert.equal((await h.send(patchRequest(id, 0, data))).status, 204);
    return id;
  };
  const a = await part(bytes(3));
  const b = await part(bytes(4, 3));
  events.emitted.length = 0;
  events.asked.length = 0;
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;/files/${a} /files/${b}` },
  }));
  assert.equal(res.status, 201, res.text);
  const id = idOf(res.headers.get("location"));
  assert.deepEqual(events.asked.map((e) => [e.type, e.size, e.concat]), [
    ["pre-create", 7, { kind: "final", parts: [a, b] }],
  ]);
  assert.deepEqual(events.emitted.map((e) => [e.type, e.id]), [
    ["post-create", id],
    ["post-finish", id],
  ]);
  assert.deepEqual(events.emitted[1]!.digests, {
    md5: hex("md5", bytes(7)),
    sha256: hex("sha256", bytes(7)),
  });
});

Deno.test("the sweep announces post-expire (no url: no request) and counts it", async () => {
  const clock = new Clock();
  const store = new MemoryStore(clock.now);
  const events = new RecordedEvents();
  const metrics = new Metrics();
  const h = harness({ store, clock, events, config: { expireMs: 60_000 } });
  const id = idOf(
    (await h.send(request("POST", "/files", { headers: { ...TUS, "Upload-Length": "6" } })))
      .headers.get("location"),
  );
  clock.advance(61_000);
  const removed = await sweepExpired({
    store,
    locker: new MemoryLocker(1000),
    config: h.config,
    now: clock.now,
    metrics,
    events,
  });
  assert.equal(removed, 1);
  assert.deepEqual(events.emitted.map((e) => [e.type, e.id, e.url]), [
    ["post-create", id, `http://up.test/files/${id}`],
    ["post-expire", id, null],
  ]);
  assert.match(metrics.render(), /resumable_uploads_total\{event="expired"\} 1/);
});

Deno.test("a deferred upload completed by a PATCH that only declares its length announces post-finish", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Defer-Length": "1" },
  }));
  const id = idOf(res.headers.get("location"));
  assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
  // tus-js-client ends a deferred upload that stops on a chunk boundary this way: no bytes.
  const last = await h.send(request("PATCH", `/files/${id}`, {
    headers: {
      ...TUS,
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": "4",
      "Upload-Length": "4",
    },
  }));
  assert.equal(last.status, 204, last.text);
  assert.deepEqual(events.types(), ["post-create", "post-finish"]);
  assert.match(String(events.emitted[1]!.digests?.sha256), /^[0-9a-f]{64}$/);
});

Deno.test("concurrent readers of a final upload whose parts completed assemble it once", async () => {
  const events = new RecordedEvents();
  const h = harness({ events });
  const part = async (data: Uint8Array<ArrayBuffer>) => {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Concat": "partial", "Upload-Length": String(data.length) },
    }));
    return idOf(res.headers.get("location"));
  };
  const a = await part(bytes(3));
  const b = await part(bytes(4, 3));
  const final = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;/files/${a} /files/${b}` },
  }));
  assert.equal(final.status, 201, final.text);
  const id = idOf(final.headers.get("location"));
  assert.equal((await h.send(patchRequest(a, 0, bytes(3)))).status, 204);
  assert.equal((await h.send(patchRequest(b, 0, bytes(4, 3)))).status, 204);
  const statuses = await Promise.all(
    [1, 2, 3].map(() => h.send(request("GET", `/files/${id}/status`))),
  );
  for (const s of statuses) assert.equal(JSON.parse(s.text).state, "complete");
  const finished = events.emitted.filter((e) => e.type === "post-finish" && e.id === id);
  assert.equal(finished.length, 1, "one post-finish for the final");
});
