import assert from "node:assert/strict";
import { etaSeconds, Progress, SENDING_WITHIN_MS } from "./progress.ts";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

Deno.test("Progress: rate over the samples of the last minute", () => {
  const c = clock();
  const p = new Progress(c.now);
  assert.equal(p.rate("a"), undefined);
  p.record("a", 0);
  for (let i = 1; i <= 10; i++) {
    c.t += 1000;
    p.record("a", i * 1_000_000); // 1 MB/s for 10 s
  }
  assert.equal(p.rate("a"), 1_000_000);
  // Idle for 50 s: the same bytes over a longer span.
  c.t += 50_000;
  assert.equal(p.rate("a"), 10_000_000 / 60);
  c.t += 10_000;
  assert.equal(p.rate("a"), 0, "silent for a whole minute");
});

Deno.test("Progress: a burst after a long idle is measured over the window, not since start", () => {
  const c = clock();
  const p = new Progress(c.now);
  p.record("a", 0);
  c.t += 300_000;
  p.record("a", 0);
  c.t += 30_000;
  p.record("a", 60_000_000);
  assert.equal(p.rate("a"), 1_000_000);
});

Deno.test("Progress: samples per upload stay bounded and idle uploads are pruned", () => {
  const c = clock();
  const p = new Progress(c.now);
  for (let i = 0; i < 10_000; i++) {
    c.t += 100;
    p.record("a", i);
  }
  assert.ok(p.rate("a")! > 0);
  c.t += 120_000;
  p.record("b", 1); // pruning happens when a new upload appears
  p.forget("b");
  assert.equal(p.rate("a"), undefined);
});

Deno.test("Progress: sending only while bytes arrived within the last seconds", () => {
  const c = clock();
  const p = new Progress(c.now);
  assert.equal(p.sending("a"), false, "never seen");
  p.record("a", 0);
  c.t += 1000;
  p.record("a", 1_000_000);
  assert.equal(p.sending("a"), true);
  c.t += SENDING_WITHIN_MS;
  assert.equal(p.sending("a"), false, "silent since");
  assert.ok(p.rate("a")! > 0, "the rate itself still looks back a minute");
});

Deno.test("etaSeconds", () => {
  assert.equal(etaSeconds(100, 10), 10);
  assert.equal(etaSeconds(101, 10), 11);
  assert.equal(etaSeconds(0, 0), 0);
  assert.equal(etaSeconds(5, 0), undefined);
  assert.equal(etaSeconds(undefined, 10), undefined);
  assert.equal(etaSeconds(5, undefined), undefined);
});
