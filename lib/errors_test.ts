import assert from "node:assert/strict";
import { toUploadError, UploadError } from "./errors.ts";

Deno.test("toUploadError maps parser errors to 400, a vanished file to 404, a full disk to 507", () => {
  assert.equal(toUploadError(new SyntaxError("bad")).status, 400);
  assert.equal(toUploadError(new RangeError("big")).status, 400);
  assert.equal(toUploadError(new Deno.errors.NotFound("gone")).status, 404);
  assert.equal(toUploadError(Object.assign(new Error("full"), { code: "ENOSPC" })).status, 507);
  assert.equal(toUploadError(new Error("boom")).status, 500);
  const own = new UploadError(409, "x", "y");
  assert.equal(toUploadError(own), own);
});
