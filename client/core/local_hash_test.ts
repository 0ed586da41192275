import assert from "node:assert/strict";
import type { RunningDigest } from "../../lib/deno/digest_pool.ts";
import { LocalHash } from "./local_hash.ts";
import { bytesSource } from "./source.ts";

/** A digest that records what it is fed, and how: copied (`update`) or in place (`borrow`). */
function recorder(canBorrow: boolean) {
  const fed: { how: string; bytes: number[] }[] = [];
  let length = 0;
  const take = (how: string) => (bytes: Uint8Array) => {
    fed.push({ how, bytes: [...bytes] });
    length += bytes.length;
    return Promise.resolve();
  };
  const digest: RunningDigest = {
    get length() {
      return length;
    },
    update: take("update"),
    ...(canBorrow ? { borrow: take("borrow") } : {}),
    digest: () => Promise.resolve({ md5: "", sha256: "" }),
    drop() {},
  };
  return { digest, fed };
}

Deno.test("lend hashes in place where the digest can, else copies; seen bytes are skipped", async () => {
  const data = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  for (const canBorrow of [true, false]) {
    const { digest, fed } = recorder(canBorrow);
    const hash = new LocalHash(bytesSource(data), digest);
    await hash.lend(0, data.subarray(0, 4));
    await hash.lend(2, data.subarray(2, 6)); // a resent range: only the unseen part counts
    await hash.lend(7, data.subarray(7)); // a gap: nothing fed
    const how = canBorrow ? "borrow" : "update";
    assert.deepEqual(fed, [{ how, bytes: [0, 1, 2, 3] }, { how, bytes: [4, 5] }]);
  }
});
