/**
 * The browser hashing, run here on a Deno Web Worker with the same worker module the page
 * bundles: digests must equal node:crypto's, for data fed in odd pieces across the in-flight bound.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { workerHashing } from "./hashing.ts";

const WORKER = new URL("./hash_worker.ts", import.meta.url);

function data(n: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 131 + (i >> 9)) & 0xff);
}

Deno.test("workerHashing streams MD5 and SHA-256 equal to node:crypto's, in any pieces", async () => {
  const hashing = workerHashing(WORKER);
  try {
    const bytes = data(40 * 1024 * 1024 + 7);
    const running = hashing.digest();
    const empty = hashing.digest();
    for (let at = 0, step = 1; at < bytes.length; at += step, step = step * 3 + 1) {
      const piece = bytes.subarray(at, at + step);
      await running.update(piece);
      assert.equal(piece[0], bytes[at], "the caller's bytes are not detached");
    }
    assert.equal(running.length, bytes.length);
    const got = await running.digest();
    assert.deepEqual(got, {
      md5: createHash("md5").update(bytes).digest("base64"),
      sha256: createHash("sha256").update(bytes).digest("base64"),
    });
    assert.deepEqual(await empty.digest(), {
      md5: createHash("md5").digest("base64"),
      sha256: createHash("sha256").digest("base64"),
    });
  } finally {
    hashing.close();
  }
});

Deno.test("workerHashing: a dropped state refuses its digest, others go on", async () => {
  const hashing = workerHashing(WORKER);
  try {
    const dropped = hashing.digest();
    const kept = hashing.digest();
    await dropped.update(data(1000));
    await kept.update(new TextEncoder().encode("abc"));
    dropped.drop();
    await assert.rejects(dropped.digest(), /dropped/);
    const { sha256 } = await kept.digest();
    assert.equal(sha256, createHash("sha256").update("abc").digest("base64"));
  } finally {
    hashing.close();
  }
});

Deno.test("workerHashing fails the upload's hash, not hangs, when the worker dies", async () => {
  const hashing = workerHashing("data:text/javascript,throw new Error('no hashing here')");
  try {
    const running = hashing.digest();
    await running.update(new Uint8Array(10)).catch(() => {});
    await assert.rejects(running.digest(), /hashing worker failed/);
  } finally {
    hashing.close();
  }
});
