import assert from "node:assert/strict";
import { startHookReceiver } from "../../tests/helpers/hook_receiver.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import { type Attempt, backoffDelay, HookDelivery } from "./delivery.ts";
import { type HookEvent, hookEvent } from "./events.ts";
import { HookQueue } from "./queue.ts";

function event(id: string): HookEvent {
  return hookEvent("post-finish", {
    id,
    offset: 3,
    length: 3,
    metadata: "",
    createdAt: 0,
    updatedAt: 0,
  }, { now: 0 });
}

async function withQueue(
  urls: string[],
  test: (queue: HookQueue, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hook-delivery-" });
  try {
    await test(await HookQueue.open(dir, { max: 100, urls }), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("backoffDelay doubles from the base up to the cap, jittered down by at most half", () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelay(n, 1000, 5000, high)),
    [1000, 2000, 4000, 5000, 5000],
  );
  assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, 1000, 5000, low)), [500, 1000, 2000]);
  assert.equal(backoffDelay(60, 1000, 300_000, high), 300_000); // no overflow far out
  assert.equal(backoffDelay(1, undefined, undefined, high), 1000); // defaults: 1 s …
  assert.equal(backoffDelay(20, undefined, undefined, high), 300_000); // … up to 5 min
});

Deno.test("HookDelivery retries a receiver that fails twice and removes the event once it answers 2xx", async () => {
  await using receiver = await startHookReceiver((_hook, n) => (n < 2 ? 500 : 204));
  await withQueue([receiver.url], async (queue, dir) => {
    const attempts: Attempt[] = [];
    const delivery = new HookDelivery(queue, {
      timeoutMs: 5000,
      baseMs: 40,
      random: () => 1, // no jitter: waits of exactly 40 then 80 ms
      onAttempt: (a) => attempts.push(a),
    });
    const sent = event("a");
    await queue.push(sent, [receiver.url]);
    delivery.start();
    try {
      const hooks = await receiver.waitFor(3);
      // The event leaves the queue just before its attempt is reported: wait for both.
      await waitFor(() => queue.size === 0 && attempts.length === 3, {
        message: "the queue to empty",
      });
      assert.equal(receiver.received.length, 3);
      assert.deepEqual(hooks.map((h) => h.event.eventId), Array(3).fill(sent.eventId));
      assert.deepEqual(hooks.map((h) => h.key), Array(3).fill(sent.eventId));
      assert.deepEqual(hooks[2]!.event, JSON.parse(JSON.stringify(sent)));
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.ok, a.detail, a.retryInMs]),
        [[1, false, "HTTP 500", 40], [2, false, "HTTP 500", 80], [3, true, "HTTP 204", undefined]],
      );
      assert.ok(hooks[1]!.at - hooks[0]!.at >= 35, "the first retry waited the base");
      assert.ok(hooks[2]!.at - hooks[1]!.at >= 75, "the second retry waited twice the base");
      for await (const _ of Deno.readDir(dir)) assert.fail("a delivered event left its file");
    } finally {
      await delivery.stop();
    }
  });
});

Deno.test("HookDelivery counts no answer within the timeout as a failure and retries", async () => {
  const hang = Promise.withResolvers<void>();
  await using receiver = await startHookReceiver(async (_hook, n) => {
    if (n === 0) await hang.promise;
    return 200;
  });
  await withQueue([receiver.url], async (queue) => {
    const attempts: Attempt[] = [];
    const delivery = new HookDelivery(queue, {
      timeoutMs: 200,
      baseMs: 10,
      onAttempt: (a) => attempts.push(a),
    });
    await queue.push(event("a"), [receiver.url]);
    delivery.start();
    try {
      // The event leaves the queue just before its attempt is reported: wait for both.
      await waitFor(() => queue.size === 0 && attempts.at(-1)?.ok === true, {
        message: "delivery after a timeout",
      });
      assert.equal(attempts[0]?.ok, false);
      assert.match(attempts[0]!.detail, /no answer within 200 ms/);
      assert.equal(attempts.at(-1)?.ok, true);
    } finally {
      hang.resolve();
      await delivery.stop();
    }
  });
});

Deno.test("HookDelivery: an event one receiver keeps refusing holds up neither others nor other receivers", async () => {
  await using picky = await startHookReceiver((hook) => (hook.event.id === "bad" ? 400 : 200));
  await using down = await startHookReceiver(() => 503);
  await using fine = await startHookReceiver(() => 200);
  await withQueue([picky.url, down.url, fine.url], async (queue) => {
    const delivery = new HookDelivery(queue, { timeoutMs: 5000, baseMs: 10, concurrency: 2 });
    await queue.push(event("bad"), [picky.url, fine.url]);
    await queue.push(event("good"), [picky.url, fine.url]);
    await queue.push(event("stuck"), [down.url]);
    delivery.start();
    try {
      await waitFor(() =>
        fine.received.length >= 2 && picky.received.some((h) => h.event.id === "good")
      );
      await picky.waitFor(3); // "bad" refused and retried at least once more
      await waitFor(() => queue.size === 2, { message: "only bad (for picky) and stuck left" });
      const left = await Promise.all([...queue.entries()].map(async (e) => ({
        id: (await queue.read(e.name))?.id,
        pending: e.pending,
      })));
      assert.deepEqual(left, [{ id: "bad", pending: [picky.url] }, {
        id: "stuck",
        pending: [down.url],
      }]);
    } finally {
      await delivery.stop();
    }
  });
});

Deno.test("HookDelivery.stop cancels a request in flight and leaves its event queued on disk", async () => {
  const arrived = Promise.withResolvers<void>();
  const never = Promise.withResolvers<void>();
  await using receiver = await startHookReceiver(async () => {
    arrived.resolve();
    await never.promise;
    return 200;
  });
  await withQueue([receiver.url], async (queue, dir) => {
    const attempts: Attempt[] = [];
    const delivery = new HookDelivery(queue, {
      timeoutMs: 30_000,
      onAttempt: (a) => attempts.push(a),
    });
    await queue.push(event("a"), [receiver.url]);
    delivery.start();
    await arrived.promise;
    await delivery.stop();
    never.resolve();
    assert.equal(queue.size, 1);
    assert.deepEqual(attempts, [], "a cancelled attempt is not the receiver's failure");
    const reopened = await HookQueue.open(dir, { max: 100, urls: [receiver.url] });
    assert.equal(reopened.size, 1);
    delivery.notify(); // stopped: starts nothing
    assert.equal(receiver.received.length, 1);
  });
});
