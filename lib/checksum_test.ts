import assert from "node:assert/strict";
import { checksumOf, parseChecksum } from "./checksum.ts";
import { UploadError } from "./errors.ts";

Deno.test("parseChecksum reads the three algorithms", () => {
  const hello = new TextEncoder().encode("hello");
  for (const alg of ["sha1", "md5", "sha256"] as const) {
    const header = checksumOf(alg, hello);
    assert.deepEqual(parseChecksum(header), { algorithm: alg, digest: header.split(" ")[1] });
  }
  assert.equal(parseChecksum("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=").algorithm, "sha1");
});

Deno.test("parseChecksum refuses unknown algorithms and bad base64", () => {
  for (
    const bad of [
      "crc32 AAAAAA==",
      "sha1",
      "sha1 not-base64!",
      "sha1 A",
      "sha1  qvTGHdzF6KLavt4PO0gs2a6pQ00=",
      "",
    ]
  ) {
    assert.throws(
      () => parseChecksum(bad),
      (e) => e instanceof UploadError && e.status === 400,
      bad,
    );
  }
});

Deno.test("parseChecksum takes a well-formed digest of the wrong length, to fail verification", () => {
  // A mismatch (460), not a malformed header (400): tus keeps 400 for unsupported algorithms.
  assert.deepEqual(parseChecksum("md5 qvTGHdzF6KLavt4PO0gs2a6pQ00="), {
    algorithm: "md5",
    digest: "qvTGHdzF6KLavt4PO0gs2a6pQ00=",
  });
  assert.deepEqual(parseChecksum("sha256 AAAA"), { algorithm: "sha256", digest: "AAAA" });
});

Deno.test("parseChecksum pads an unpadded digest, so it compares equal to the computed one", () => {
  const padded = checksumOf("sha1", new TextEncoder().encode("hello"));
  const unpadded = padded.replace(/=+$/, "");
  assert.notEqual(unpadded, padded);
  assert.deepEqual(parseChecksum(unpadded), parseChecksum(padded));
});
