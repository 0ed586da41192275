import assert from "node:assert/strict";
import { childPeak as runChild, v8Flags } from "../../tests/helpers/child_peak.ts";
import { SERVER_TASK_FLAGS } from "../../tests/helpers/deno_task.ts";

const MiB = 1024 * 1024;

/**
 * What a child Deno (with the `server` task's V8 options) prints after running `loop` — a script
 * that may call `noteFresh` and sets `peak`; `majors` counts the full collections chunk_gc
 * asks for (its `gc` is wrapped before chunk_gc is loaded).
 */
function childPeak(loop: string): Promise<number> {
  const module = JSON.stringify(new URL("./chunk_gc.ts", import.meta.url).href);
  return runChild(
    v8Flags(SERVER_TASK_FLAGS),
    `const { noteFresh } = await import(${module});`,
    loop,
  );
}

/**
 * Peak external memory while 128 MiB arrive as fresh 64 KiB chunks, each copied into one reused
 * buffer, as a request body arrives; `note`: whether chunk_gc is told about them.
 */
function peakExternal(note: boolean): Promise<number> {
  return childPeak(`const buffer = new Uint8Array(${MiB});
for (let i = 0; i < 2048; i++) {
  const chunk = new Uint8Array(65536);
  chunk[0] = i;
  buffer.set(chunk, (i % 16) * chunk.length);
  if (${note}) noteFresh(chunk.length);
  await new Promise((resolve) => setTimeout(resolve, 0));
  peak = Math.max(peak, Deno.memoryUsage().external);
}`);
}

/**
 * While 1 GiB is received, every 256 KiB leaves objects behind that outlive a few chunks (so
 * young-generation collections promote them) and then die, as a long upload's per-part requests
 * do; `note`: whether chunk_gc is told about the bytes; `live`: objects that stay alive
 * throughout. Prints the peak heap in use, or with `count` the full collections asked for.
 */
function promoting(note: boolean, live = 0, count = false): Promise<number> {
  return childPeak(`const live = Array.from({ length: ${live} }, (_, i) => ({ i, s: "y" + i }));
const ring = new Array(256);
for (let i = 0; i < 4096; i++) {
  ring[i % ring.length] = Array.from({ length: 256 }, (_, j) => ({ i, j, s: "x" + j }));
  if (${note}) noteFresh(256 * 1024);
  if (i % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  peak = ${count} ? majors : Math.max(peak, Deno.memoryUsage().heapUsed);
}
if (live.length < 0) console.log(live);`);
}

Deno.test("received chunks are freed within a few MiB, not left to pile up until V8 collects", async () => {
  const [noted, unnoted] = await Promise.all([peakExternal(true), peakExternal(false)]);
  assert.ok(noted < 12 * MiB, `${(noted / MiB).toFixed(1)} MiB of chunks alive at once`);
  // The control shows what is at stake: without the collections, dead chunks pile up.
  assert.ok(unnoted > 2 * noted, `${(unnoted / MiB).toFixed(1)} MiB without, vs ${noted}`);
});

Deno.test("promoted garbage is collected once the heap grows, not when V8 first gets to it", async () => {
  const [noted, unnoted] = await Promise.all([promoting(true), promoting(false)]);
  // About 4 MiB of the ring is alive at any time, over an idle runtime's heap.
  assert.ok(noted < 20 * MiB, `${(noted / MiB).toFixed(1)} MiB of heap at the peak`);
  assert.ok(unnoted > 1.5 * noted, `${(unnoted / MiB).toFixed(1)} MiB without, vs ${noted}`);
});

Deno.test("a heap that stays big is not collected in full again every 64 MiB", async () => {
  // About 45 MiB alive: each full collection costs tens of ms, so the next waits for the heap to
  // grow by a share of it (a fixed 2 MiB made it 16 collections, one per 64 MiB).
  const majors = await promoting(true, 512 * 1024, true);
  assert.ok(majors > 0, "the heap grew past the first bound");
  assert.ok(majors <= 10, `${majors} full collections in 1 GiB`);
});
