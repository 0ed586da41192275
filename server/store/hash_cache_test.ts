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
