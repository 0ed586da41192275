import assert from "node:assert/strict";
import { createMd5, md5Backend } from "./md5_native.ts";

/** Deterministic bytes with no short period. */
function bytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test("libcrypto is the MD5 here (FFI permitted, the library installed)", () => {
  assert.equal(md5Backend(), "libcrypto");
});

Deno.test("libcrypto's MD5 and node:crypto's give identical digests, fed in any pieces", () => {
  const data = bytes(3 * 1024 * 1024 + 17);
  const known = createMd5("libcrypto");
  known.update(new TextEncoder().encode("abc"));
  assert.equal(known.digest(), "kAFQmDzST7DWlj99KOF/cg==");
  for (const cut of [0, 1, 63, 64, 65, 1024 * 1024, data.length]) {
    const native = createMd5("libcrypto");
    const node = createMd5("node:crypto");
    for (const part of [data.subarray(0, cut), data.subarray(cut)]) {
      native.update(part);
      node.update(part);
    }
    assert.equal(native.digest(), node.digest(), `cut at ${cut}`);
  }
  // Shared memory (how the digest pool hands bytes to its workers) hashes the same.
  const shared = new Uint8Array(new SharedArrayBuffer(data.length));
  shared.set(data);
  const a = createMd5("libcrypto");
  a.update(shared);
  const b = createMd5("node:crypto");
  b.update(data);
  assert.equal(a.digest(), b.digest());
  assert.equal(createMd5("libcrypto").digest(), createMd5("node:crypto").digest()); // no bytes
});

Deno.test("without --allow-ffi, MD5 falls back to node:crypto with the same digest", async () => {
  const code = `
    import { createMd5, md5Backend } from ${JSON.stringify(import.meta.resolve("./md5_native.ts"))};
    const m = createMd5();
    m.update(new TextEncoder().encode("abc"));
    console.log(md5Backend(), m.digest());`;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(script, code);
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-prompt", script], // no permission at all
    stdout: "piped",
    stderr: "inherit",
  }).output().finally(() => Deno.remove(script));
  assert.ok(success);
  assert.equal(new TextDecoder().decode(stdout).trim(), "node:crypto kAFQmDzST7DWlj99KOF/cg==");
});

Deno.test("a finished MD5 can't be fed or finished again", () => {
  const m = createMd5("libcrypto");
  m.digest();
  assert.throws(() => m.update(new Uint8Array(1)), /finished/);
  assert.throws(() => m.digest(), /finished/);
});
