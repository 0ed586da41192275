import assert from "node:assert/strict";
import { inlineDigest } from "../../lib/deno/digest_pool.ts";
import { HashCache } from "./hash_cache.ts";

Deno.test("HashCache evicts the oldest idle state past its bound, never a busy one", async () => {
  const cache = new HashCache(2);
  cache.keep("a", inlineDigest());
  cache.keep("b", inlineDigest());
  await cache.busy("a", () => {
    cache.keep("c", inlineDigest()); // "a" is busy: "b" goes
    assert.ok(cache.has("a") && !cache.has("b") && cache.has("c"));
    return Promise.resolve();
  });
  cache.keep("d", inlineDigest()); // "a" is idle again and the oldest
  assert.deepEqual(["a", "b", "c", "d"].filter((id) => cache.has(id)), ["c", "d"]);
  const taken = cache.take("c");
  assert.ok(taken && !cache.has("c"));
  cache.clear();
  assert.ok(!cache.has("d"));
});

Deno.test("HashCache: settled waits for bytes handed over; a hand-over that fails drops the state", async () => {
  const cache = new HashCache();
  cache.keep("a", inlineDigest());
  const arrival = Promise.withResolvers<void>();
  cache.handOver("a", arrival.promise);
  let settled = false;
  const waiting = cache.settled("a").then(() => settled = true);
  await Promise.resolve();
  assert.equal(settled, false, "not before the bytes are in");
  arrival.resolve();
  await waiting;
  assert.ok(cache.has("a"));
  await cache.settled("b"); // nothing handed over: at once

  cache.handOver("a", Promise.reject(new Error("the hashes failed")));
  await cache.settled("a");
  assert.ok(!cache.has("a"), "a state missing bytes is rebuilt from the stored ones");
});
