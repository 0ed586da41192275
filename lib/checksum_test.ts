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

Deno.test("parseChecksum refuses unknown algorithms, bad base64 and wrong digest sizes", () => {
  for (
    const bad of [
      "crc32 AAAAAA==",
      "sha1",
      "sha1 not-base64!",
      "sha1 AAAA",
      "md5 qvTGHdzF6KLavt4PO0gs2a6pQ00=",
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
