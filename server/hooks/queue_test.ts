import assert from "node:assert/strict";
import { type HookEvent, hookEvent } from "./events.ts";
import { HookQueue, type QueueOptions } from "./queue.ts";

const A = "http://a.test/hook";
const B = "http://b.test/hook";

function event(id: string): HookEvent {
  return hookEvent("post-create", {
    id,
    offset: 0,
    length: 10,
    metadata: "",
    createdAt: 0,
    updatedAt: 0,
  }, { now: 0 });
}

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "hook-queue-" });
  try {
    await test(`${root}/.hooks`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const f of Deno.readDir(dir)) names.push(f.name);
  return names.sort();
}

function open(dir: string, options: Partial<QueueOptions> = {}) {
  const dropped: string[] = [];
  const sizes: number[] = [];
  const queue = HookQueue.open(dir, {
    max: 100,
    urls: [A, B],
    onDrop: (name, reason) => dropped.push(`${name}: ${reason}`),
    onSize: (n) => sizes.push(n),
    ...options,
  });
  return { queue, dropped, sizes };
}

Deno.test("HookQueue writes each event to its own file, and a new queue picks them up in order", async () => {
  await withDir(async (dir) => {
    const { queue: q1 } = open(dir);
    const first = await q1;
    const events = ["a", "b", "c"].map(event);
    for (const e of events) await first.push(e, [A]);
    assert.equal((await files(dir)).length, 3);

    const second = await open(dir).queue; // as after a restart (or a crash: pushes were durable)
    const entries = [...second.entries()];
    assert.deepEqual(entries.map((e) => e.pending), [[A], [A], [A]]);
    const read = await Promise.all(entries.map((e) => second.read(e.name)));
    assert.deepEqual(read.map((e) => e?.id), ["a", "b", "c"]);
    assert.deepEqual(read.map((e) => e?.eventId), events.map((e) => e.eventId));
  });
});

Deno.test("HookQueue keeps an event until every receiver has it, across a reopen", async () => {
  await withDir(async (dir) => {
    const { queue, sizes } = open(dir);
    const q = await queue;
    await q.push(event("a"), [A, B]);
    const [entry] = [...q.entries()];
    await q.delivered(entry!.name, A);
    assert.deepEqual([...(await open(dir).queue).entries()].map((e) => e.pending), [[B]]);
    await q.delivered(entry!.name, A); // twice: no change
    await q.delivered(entry!.name, B);
    assert.equal(q.size, 0);
    assert.deepEqual(await files(dir), []);
    assert.deepEqual(sizes, [0, 1, 1, 1, 0]);
  });
});

Deno.test("HookQueue drops the oldest events past its bound and reports each", async () => {
  await withDir(async (dir) => {
    const { queue, dropped } = open(dir, { max: 3 });
    const q = await queue;
    for (const id of ["a", "b", "c", "d", "e"]) await q.push(event(id), [A]);
    assert.equal(q.size, 3);
    assert.equal((await files(dir)).length, 3);
    assert.equal(dropped.length, 2);
    assert.match(dropped[0]!, /more than 3 events/);
    const left = await Promise.all([...q.entries()].map((e) => q.read(e.name)));
    assert.deepEqual(left.map((e) => e?.id), ["c", "d", "e"]);

    // A smaller bound at the next start trims too.
    const reopened = open(dir, { max: 1 });
    const r = await reopened.queue;
    assert.equal(r.size, 1);
    assert.equal((await r.read([...r.entries()][0]!.name))?.id, "e");
    assert.equal(reopened.dropped.length, 2);
  });
});

Deno.test("HookQueue at open forgets receivers no longer configured", async () => {
  await withDir(async (dir) => {
    const q = await open(dir).queue;
    await q.push(event("both"), [A, B]);
    await q.push(event("only-b"), [B]);
    const { queue, dropped } = open(dir, { urls: [A] });
    const r = await queue;
    assert.deepEqual([...r.entries()].map((e) => e.pending), [[A]]);
    assert.equal((await r.read([...r.entries()][0]!.name))?.id, "both");
    assert.equal(dropped.length, 2);
    assert.equal((await files(dir)).length, 1);
    // The file itself was rewritten: a further start agrees.
    assert.deepEqual(
      [...(await open(dir, { urls: [A, B] }).queue).entries()].map((e) => e.pending),
      [
        [A],
      ],
    );
  });
});

Deno.test("HookQueue at open removes torn temp files and sets unreadable ones aside", async () => {
  await withDir(async (dir) => {
    const q = await open(dir).queue;
    await q.push(event("good"), [A]);
    await Deno.writeTextFile(`${dir}/000000000000001-000000-x.json.1234.tmp`, "{");
    await Deno.writeTextFile(`${dir}/000000000000002-000000-y.json`, "not json");
    const { queue, dropped } = open(dir);
    const r = await queue;
    assert.equal(r.size, 1);
    assert.equal(dropped.length, 1);
    assert.match(dropped[0]!, /unreadable/);
    const names = await files(dir);
    assert.equal(names.length, 2);
    assert.ok(names.includes("000000000000002-000000-y.json.unreadable"), names.join());
  });
});

Deno.test("HookQueue: an entry dropped while being read reads as undefined", async () => {
  await withDir(async (dir) => {
    const q = await open(dir, { max: 1 }).queue;
    await q.push(event("a"), [A]);
    const [entry] = [...q.entries()];
    await q.push(event("b"), [A]);
    assert.equal(q.has(entry!.name), false);
    assert.equal(await q.read(entry!.name), undefined);
    await q.delivered(entry!.name, A); // a late result for a dropped entry is ignored
    assert.equal(q.size, 1);
  });
});
