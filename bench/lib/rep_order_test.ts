import * as assert from "node:assert/strict";
import { repOrder } from "./rep_order.ts";

const rows = Array.from({ length: 13 }, (_, i) => `row${i}`);

Deno.test("repOrder: rep 1 keeps the order given; every rep runs every row once", () => {
  assert.deepEqual(repOrder(rows, 1), rows);
  for (let rep = 1; rep <= 20; rep++) {
    assert.deepEqual([...repOrder(rows, rep)].sort(), [...rows].sort(), `rep ${rep}`);
  }
  for (const n of [0, 1, 2, 4, 6, 12]) {
    const few = rows.slice(0, n);
    for (let rep = 1; rep <= 6; rep++) assert.deepEqual([...repOrder(few, rep)].sort(), few.sort());
  }
});

Deno.test("repOrder: over five reps, no row follows the same row twice", () => {
  const before = new Map<string, string[]>();
  let previous: string | undefined;
  for (let rep = 1; rep <= 5; rep++) {
    for (const row of repOrder(rows, rep)) {
      if (previous !== undefined) before.set(row, [...before.get(row) ?? [], previous]);
      previous = row;
    }
  }
  for (const [row, predecessors] of before) {
    assert.equal(new Set(predecessors).size, predecessors.length, `${row}: ${predecessors}`);
  }
});
