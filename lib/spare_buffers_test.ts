import assert from "node:assert/strict";
import { SpareBuffers } from "./spare_buffers.ts";

Deno.test("spare buffers are reused up to their bound, whole or from a view of their start", () => {
  const spares = new SpareBuffers(16, 2);
  const [a, b, c] = [spares.take(), spares.take(), spares.take()];
  assert.equal(spares.made, 3);
  spares.give(a.subarray(0, 5)); // a view of a's start gives back all of a
  spares.give(b);
  spares.give(c); // over the bound: dropped
  assert.equal(spares.idle, 2);
  const again = [spares.take(), spares.take()];
  assert.deepEqual(new Set(again.map((x) => x.buffer)), new Set([a.buffer, b.buffer]));
  assert.ok(again.every((x) => x.length === 16));
  assert.equal(spares.made, 3);
  assert.notEqual(spares.take().buffer, c.buffer);
  assert.equal(spares.made, 4);
});

Deno.test("spare buffers refuse what is not one of theirs", () => {
  const spares = new SpareBuffers(16, 4);
  spares.give(new Uint8Array(32)); // another size
  spares.give(new Uint8Array(16)); // the same size, not made here
  spares.give(spares.take().subarray(4)); // not from the start
  spares.take();
  assert.equal(spares.made, 2);
});

Deno.test("spare buffers are made as asked (shared memory for workers)", () => {
  const spares = new SpareBuffers(8, 1, () => new Uint8Array(new SharedArrayBuffer(8)));
  const shared = spares.take();
  assert.ok(shared.buffer instanceof SharedArrayBuffer);
  spares.give(shared);
  assert.equal(spares.take(), shared);
});

Deno.test("spare buffers made as views of bigger memory come back whole", () => {
  const spares = new SpareBuffers(8, 1, () => new Uint8Array(24).subarray(4, 12));
  const view = spares.take();
  spares.give(view.subarray(0, 3));
  const again = spares.take();
  assert.equal(again, view);
  assert.equal(again.length, 8);
  spares.give(again.subarray(1)); // not from its start
  spares.take();
  assert.equal(spares.made, 2);
});
