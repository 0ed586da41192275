import assert from "node:assert/strict";
import { newUploadId } from "../../lib/ids.ts";
import { AccountedStore } from "./accounted_store.ts";
import { storeConformance } from "./conformance.ts";
import { MemoryStore } from "./memory_store.ts";
import { limitedAppend } from "./limited_append.ts";

storeConformance("AccountedStore", {
  make: async () => ({
    store: await AccountedStore.open(new MemoryStore()),
    cleanup: () => Promise.resolve(),
  }),
});

const never = new AbortController().signal;
const body = (n: number) => new Blob([new Uint8Array(n)]).stream();

Deno.test("AccountedStore counts declared lengths and deferred bytes per owner", async () => {
  const inner = new MemoryStore();
  const store = await AccountedStore.open(inner);
  const a = newUploadId();
  const b = newUploadId();
  await store.create({ id: a, length: 100, metadata: "", createdAt: 0, owner: "alice" });
  await store.create({ id: b, metadata: "", createdAt: 0, owner: "alice" });
  assert.equal(store.of("alice"), 100, "a known length counts at once");
  await limitedAppend(store, b, 0, body(30), { maxBytes: 1000, signal: never });
  assert.equal(store.of("alice"), 130, "a deferred upload counts its bytes");
  await store.declareLength(b, 50);
  assert.equal(store.of("alice"), 150);
  assert.equal(store.of("bob"), 0);
  await store.remove(a);
  assert.equal(store.of("alice"), 50);
  const reopened = await AccountedStore.open(inner);
  assert.equal(reopened.of("alice"), 50, "rebuilt from the stored uploads");
});
