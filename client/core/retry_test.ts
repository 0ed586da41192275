import assert from "node:assert/strict";
import { backoffMs, classify, DEFAULT_RETRY } from "./retry.ts";

Deno.test("classify sorts answers into resync, retry, restart and fatal", () => {
  assert.equal(classify(undefined), "retry");
  assert.equal(classify(409), "resync");
  assert.equal(classify(404), "restart");
  assert.equal(classify(410), "restart");
  for (const s of [408, 423, 429, 460, 500, 502, 503, 507]) {
    assert.equal(classify(s), "retry", String(s));
  }
  for (const s of [400, 401, 403, 413, 415]) assert.equal(classify(s), "fatal", String(s));
});

Deno.test("backoff grows exponentially with full jitter up to the cap", () => {
  const top = () => 0.999999;
  assert.equal(backoffMs(0, DEFAULT_RETRY, null, top), 499);
  assert.equal(backoffMs(3, DEFAULT_RETRY, null, top), 3999);
  assert.equal(backoffMs(20, DEFAULT_RETRY, null, top), 29_999);
  assert.equal(backoffMs(5, DEFAULT_RETRY, null, () => 0), 0);
});

Deno.test("backoff honours Retry-After seconds in full, past the cap, up to an hour", () => {
  assert.equal(backoffMs(0, DEFAULT_RETRY, "3", () => 0), 3000);
  assert.equal(backoffMs(0, DEFAULT_RETRY, "600", () => 0), 600_000);
  assert.equal(backoffMs(0, DEFAULT_RETRY, "9999", () => 0), 3_600_000);
  assert.equal(backoffMs(0, DEFAULT_RETRY, "soon", () => 0), 0);
});
