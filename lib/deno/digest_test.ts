import assert from "node:assert/strict";
import { base64ToHex, DigestState, formatReprDigest, parseReprDigest } from "./digest.ts";

Deno.test("DigestState matches the known MD5 and SHA-256 of 'abc' fed in pieces", () => {
  const state = new DigestState();
  state.update(new TextEncoder().encode("a"));
  state.update(new TextEncoder().encode("bc"));
  assert.equal(state.length, 3);
  const d = state.digest();
  assert.equal(base64ToHex(d.md5), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(
    base64ToHex(d.sha256),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("Repr-Digest round-trips and ignores unknown algorithms", () => {
  const d = {
    md5: "kAFQmDzST7DWlj99KOF/cg==",
    sha256: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
  };
  assert.deepEqual(parseReprDigest(formatReprDigest(d)), d);
  assert.deepEqual(parseReprDigest("sha-512=:AAAA:, md5=:kAFQmDzST7DWlj99KOF/cg==:"), {
    md5: d.md5,
  });
  assert.equal(parseReprDigest("sha-256=abc"), undefined);
});
