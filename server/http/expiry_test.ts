import assert from "node:assert/strict";
import { sweepExpired, TOMBSTONE_AGE_MS } from "./expiry.ts";
import { MemoryLocker } from "../lock/locker.ts";
import { Metrics } from "./metrics.ts";
import { MemoryStore } from "../store/memory_store.ts";
import {
  bytes,
  Clock,
  createUpload,
  type Harness,
  harness,
  patchRequest,
  request,
  TUS,
} from "./handlers/test_harness.ts";

/** The statuses HEAD, GET and PATCH answer for an upload. */
async function statuses(h: Harness, id: string): Promise<number[]> {
  return [
    (await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }))).status,
    (await h.send(request("GET", `/files/${id}`))).status,
    (await h.send(patchRequest(id, 5, bytes(1)))).status,
  ];
}

function sweep(h: Harness, clock: Clock) {
  return sweepExpired({
    store: h.store,
    locker: new MemoryLocker(1000),
    config: h.config,
    now: clock.now,
    metrics: new Metrics(),
  });
}

Deno.test("an expired upload answers 410 before the sweep and after it, until its tombstone goes; then 404", async () => {
  const clock = new Clock();
  const h = harness({ store: new MemoryStore(clock.now), clock, config: { expireMs: 60_000 } });
  const id = await createUpload(h, { length: 10 });
  assert.equal((await h.send(patchRequest(id, 0, bytes(5)))).status, 204);

  clock.advance(61_000);
  assert.deepEqual(await statuses(h, id), [410, 410, 410], "expired, not yet swept");
  assert.equal(await sweep(h, clock), 1);
  assert.deepEqual(await statuses(h, id), [410, 410, 410], "swept: a tombstone");

  clock.advance(TOMBSTONE_AGE_MS + 1000);
  await sweep(h, clock);
  assert.deepEqual(await statuses(h, id), [404, 404, 404], "the tombstone was dropped");
});

Deno.test("a terminated upload answers 410 until its tombstone goes; then 404", async () => {
  const clock = new Clock();
  const h = harness({ store: new MemoryStore(clock.now), clock });
  const id = await createUpload(h, { length: 10 });
  const deleted = await h.send(request("DELETE", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(deleted.status, 204);
  assert.deepEqual(await statuses(h, id), [410, 410, 410]);
  clock.advance(TOMBSTONE_AGE_MS + 1000);
  await sweep(h, clock);
  assert.deepEqual(await statuses(h, id), [404, 404, 404]);
});
