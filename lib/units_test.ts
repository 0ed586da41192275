import assert from "node:assert/strict";
import {
  formatBytes,
  formatDuration,
  formatRate,
  formatTimeLeft,
  formatTransfer,
  parseDuration,
  parseSize,
} from "./units.ts";

Deno.test("parseSize reads binary and decimal units", () => {
  assert.equal(parseSize("512"), 512);
  assert.equal(parseSize("8MiB"), 8 * 2 ** 20);
  assert.equal(parseSize("8 mib"), 8 * 2 ** 20);
  assert.equal(parseSize("1.5GB"), 1.5e9);
  assert.equal(parseSize("2KiB"), 2048);
  assert.equal(parseSize("10KB"), 10_000);
});

Deno.test("parseSize refuses negative, unknown units and garbage", () => {
  for (const bad of ["-1", "1XB", "MiB", "", "1e3", "99999999999TiB"]) {
    assert.throws(() => parseSize(bad), RangeError, bad);
  }
});

Deno.test("parseDuration reads s/m/h/d and bare seconds", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("24h"), 86_400_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("10"), 10_000);
  assert.equal(parseDuration("0"), 0);
  assert.throws(() => parseDuration("soon"), RangeError);
  assert.throws(() => parseDuration("-5s"), RangeError);
});

Deno.test("formatBytes is readable", () => {
  assert.equal(formatBytes(10), "10 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(3 * 2 ** 30), "3.00 GiB");
});

Deno.test("formatRate and formatTimeLeft are short, readable and in the same unit family", () => {
  assert.equal(formatRate(1536 * 1024), "1.50 MiB/s");
  assert.equal(formatRate(3e6), "2.86 MiB/s");
  assert.equal(formatRate(10.4), "10 B/s");
  assert.equal(formatTimeLeft(0.2), "1 s");
  assert.equal(formatTimeLeft(200), "3 min 20 s");
  assert.equal(formatTimeLeft(7500), "2 h 5 min");
});

Deno.test("formatDuration says a duration as parseDuration reads it", () => {
  for (const text of ["1h", "90s", "2d", "5m", "1500ms"]) {
    assert.equal(formatDuration(parseDuration(text)), text);
  }
});

Deno.test("formatTransfer says what was sent, then what the server saved", () => {
  const MiB = 2 ** 20;
  assert.deepEqual(formatTransfer(12 * MiB, 8 * MiB, 32 * MiB), [
    "37% sent 12.0 MiB of 32.0 MiB",
    "saved 8.00 MiB",
  ]);
  assert.deepEqual(formatTransfer(0, 0, 0), ["100% sent 0 B of 0 B", "saved 0 B"]);
});
