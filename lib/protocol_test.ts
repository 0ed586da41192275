import assert from "node:assert/strict";
import { UploadError } from "./errors.ts";
import { parseHeaderInteger } from "./protocol.ts";

Deno.test("parseHeaderInteger accepts plain decimal integers", () => {
  assert.equal(parseHeaderInteger("Upload-Offset", "0"), 0);
  assert.equal(parseHeaderInteger("Upload-Offset", "1234567"), 1234567);
  assert.equal(parseHeaderInteger("Upload-Offset", "9007199254740991"), 2 ** 53 - 1);
});

Deno.test("parseHeaderInteger refuses signs, exponents, spaces, lists and huge values", () => {
  for (
    const bad of ["", "-1", "+5", "1e3", " 5", "5 ", "5, 5", "0x10", "1.0", "9007199254740992"]
  ) {
    assert.throws(() => parseHeaderInteger("Upload-Offset", bad), /Upload-Offset/, bad);
  }
  assert.throws(
    () => parseHeaderInteger("Upload-Length", "99999999999999999"),
    (e) => e instanceof UploadError && e.status === 400,
  );
});
