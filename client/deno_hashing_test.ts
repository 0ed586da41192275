import assert from "node:assert/strict";
import { CHECKSUM_ALGORITHMS, checksumOf } from "../lib/checksum.ts";
import { denoHashing } from "./deno_hashing.ts";

const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31 + (i >> 10)) & 0xff);

Deno.test("libcrypto per-chunk checksums equal node:crypto's, for every algorithm", async () => {
  const hashing = await denoHashing();
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    assert.equal(hashing.checksum!(algorithm, data), checksumOf(algorithm, data), algorithm);
    const empty = new Uint8Array(0);
    assert.equal(hashing.checksum!(algorithm, empty), checksumOf(algorithm, empty), algorithm);
  }
});

Deno.test("without --allow-ffi, the hashing falls back to node:crypto with the same values", async () => {
  const code = `
    import { denoHashing } from ${JSON.stringify(import.meta.resolve("./deno_hashing.ts"))};
    const hashing = await denoHashing();
    const bytes = new TextEncoder().encode("abc");
    const digest = hashing.digest();
    await digest.update(bytes);
    console.log(hashing.checksum("sha1", bytes), JSON.stringify(await digest.digest()));`;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(script, code);
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-prompt", "--allow-read", script], // no FFI
    stdout: "piped",
    stderr: "inherit",
  }).output().finally(() => Deno.remove(script));
  assert.ok(success);
  assert.equal(
    new TextDecoder().decode(stdout).trim(),
    'sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0= {"md5":"kAFQmDzST7DWlj99KOF/cg==",' +
      '"sha256":"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="}',
  );
});
