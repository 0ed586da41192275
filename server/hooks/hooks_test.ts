import assert from "node:assert/strict";
import { startHookReceiver } from "../../tests/helpers/hook_receiver.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import { defaultConfig, type ServerConfig } from "../config/config.ts";
import { Metrics } from "../http/metrics.ts";
import { FileStore } from "../store/file/file_store.ts";
import { hookEvent } from "./events.ts";
import { Hooks, QUEUE_DIR } from "./hooks.ts";

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hooks-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(config: Partial<ServerConfig>, metrics = new Metrics()) {
  return Hooks.open({
    config: defaultConfig(config),
    metrics,
    log: () => {},
    retryBaseMs: 20,
  });
}

Deno.test("Hooks queue post-* events in <dir>/.hooks, deliver them and keep the metrics", async () => {
  const held = Promise.withResolvers<void>();
  await using receiver = await startHookReceiver(async (_hook, n) => {
    if (n > 0) return 200;
    await held.promise;
    return 500;
  });
  await withDir(async (dir) => {
    const metrics = new Metrics();
    const hooks = await open({ dir, hookUrls: [receiver.url] }, metrics);
    try {
      const store = await FileStore.open(dir);
      const info = await store.create({
        id: "ab".repeat(16),
        length: 3,
        metadata: "",
        createdAt: 0,
      });
      const event = hookEvent("post-create", info, {
        now: 0,
        storage: store.location(info.id),
      });
      await hooks.emit(event);
      // On disk once emit resolves, and until delivered.
      const names: string[] = [];
      for await (const f of Deno.readDir(`${dir}/${QUEUE_DIR}`)) names.push(f.name);
      assert.equal(names.length, 1);
      const stored = JSON.parse(await Deno.readTextFile(`${dir}/${QUEUE_DIR}/${names[0]}`));
      assert.deepEqual(stored, { v: 1, urls: [receiver.url], event });
      held.resolve();
      const hooksSeen = await receiver.waitFor(2);
      // The delivery is recorded (queue entry, gauge, counter) after the receiver has answered.
      await waitFor(() => /resumable_hook_deliveries_total 1/.test(metrics.render()), {
        message: "the delivery to be counted",
      });
      await waitFor(() => hooks.backlog === 0, { message: "the backlog to drain" });
      assert.deepEqual(hooksSeen[1]!.event.storage, {
        type: "file",
        path: `${dir}/ab/ab/${"ab".repeat(16)}`,
      });
      const text = metrics.render();
      assert.match(text, /resumable_hook_backlog 0/);
      assert.match(text, /resumable_hook_deliveries_total 1/);
      assert.match(text, /resumable_hook_delivery_failures_total 1/);
    } finally {
      held.resolve();
      await hooks.stop(1000);
    }
  });
});

Deno.test("the file store doesn't see the hook queue: not listed, never collected as garbage", async () => {
  await using receiver = await startHookReceiver(() => 503); // keeps events queued
  await withDir(async (dir) => {
    const hooks = await open({ dir, hookUrls: [receiver.url] });
    try {
      const store = await FileStore.open(dir);
      const info = await store.create({
        id: "cd".repeat(16),
        length: 3,
        metadata: "",
        createdAt: 0,
      });
      for (let i = 0; i < 3; i++) await hooks.emit(hookEvent("post-create", info, { now: 0 }));
      const ids: string[] = [];
      for await (const id of store.list()) ids.push(id);
      assert.deepEqual(ids, [info.id]);
      await store.collectGarbage(Date.now() + 3_600_000); // everything counts as old
      let queued = 0;
      for await (const f of Deno.readDir(`${dir}/${QUEUE_DIR}`)) {
        if (f.name.endsWith(".json")) queued++;
      }
      assert.equal(queued, 3);
      assert.equal(hooks.backlog, 3);
    } finally {
      await hooks.stop(1000);
    }
  });
});

Deno.test("Hooks run --on-finish for post-finish only, and queue nothing without --hook-url", async () => {
  await withDir(async (dir) => {
    const out = `${dir}/finished.jsonl`;
    const hooks = await open({ dir, onFinish: `sh -c 'cat >> "$1"' sh ${out}` });
    const info = {
      id: "ef".repeat(16),
      length: 0,
      offset: 0,
      metadata: "",
      createdAt: 0,
      updatedAt: 0,
    };
    await hooks.emit(hookEvent("post-create", info, { now: 0 }));
    await hooks.emit(hookEvent("post-finish", info, { now: 0 }));
    await hooks.stop(10_000); // lets the run end
    const lines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((e) => e.type), ["post-finish"]);
    await assert.rejects(Deno.stat(`${dir}/${QUEUE_DIR}`), Deno.errors.NotFound);
  });
});

Deno.test("Hooks.open refuses an --on-finish it can't split", async () => {
  await withDir(async (dir) => {
    await assert.rejects(open({ dir, onFinish: "notify 'unbalanced" }), RangeError);
  });
});
