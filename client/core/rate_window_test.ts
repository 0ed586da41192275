import assert from "node:assert/strict";
import { RateWindow } from "./rate_window.ts";

Deno.test("RateWindow: no speed until fresh samples span the minimum, then bytes over time", () => {
  const w = new RateWindow(5000, 1000);
  assert.equal(w.rate(0), undefined);
  w.add(0, 0);
  w.add(500, 500_000);
  assert.equal(w.rate(500), undefined, "half a second is too little to tell");
  w.add(1000, 1_000_000);
  assert.equal(w.rate(1000), 1_000_000);
  assert.equal(w.eta(10_000_000, 1000), 9);
});

Deno.test("RateWindow: the speed follows the last window, not the average since the start", () => {
  const w = new RateWindow(5000, 1000);
  for (let t = 0; t <= 10_000; t += 500) w.add(t, t * 100); // 100 kB/s for 10 s
  for (let t = 10_500; t <= 20_000; t += 500) w.add(t, 1_000_000 + (t - 10_000) * 1000); // 1 MB/s
  assert.equal(w.rate(20_000), 1_000_000);
  assert.equal(w.eta(20_000_000, 20_000), 9);
});

Deno.test("RateWindow: a stall lowers the speed to 0 and then shows no time left", () => {
  const w = new RateWindow(5000, 1000);
  w.add(0, 0);
  w.add(2000, 2_000_000);
  assert.equal(w.rate(2000), 1_000_000);
  assert.equal(w.rate(4000), 500_000, "two silent seconds halve it");
  assert.equal(w.rate(7000), 0, "silent for the whole window");
  assert.equal(w.eta(10_000_000, 7000), undefined);
});

Deno.test("RateWindow: after a reset (a reconnect) there is no speed until fresh samples", () => {
  const w = new RateWindow(5000, 1000);
  w.add(0, 0);
  w.add(3000, 30_000_000);
  assert.equal(w.rate(3000), 10_000_000);
  w.reset();
  w.add(60_000, 30_000_000); // resumed at the server's offset, a minute later
  assert.equal(w.rate(60_000), undefined);
  assert.equal(w.eta(100_000_000, 60_000), undefined);
  w.add(61_000, 31_000_000);
  assert.equal(w.rate(61_000), 1_000_000);
});

Deno.test("RateWindow: bytes going back (a restarted upload) start a new history", () => {
  const w = new RateWindow(5000, 1000);
  w.add(0, 0);
  w.add(2000, 8_000_000);
  w.add(2500, 0);
  assert.equal(w.rate(2500), undefined);
});
