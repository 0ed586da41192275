import assert from "node:assert/strict";
import { badRequest, toUploadError, UploadError } from "./errors.ts";

Deno.test("toUploadError maps a vanished file to 404, a full disk to 507, the rest to 500", () => {
  // A built-in parse error is the server's own failure (e.g. a damaged record), never the client's.
  assert.equal(toUploadError(new SyntaxError("bad")).status, 500);
  assert.equal(toUploadError(new RangeError("big")).status, 500);
  assert.equal(toUploadError(new Deno.errors.NotFound("gone")).status, 404);
  assert.equal(toUploadError(Object.assign(new Error("full"), { code: "ENOSPC" })).status, 507);
  assert.equal(toUploadError(new Error("boom")).status, 500);
  const own = new UploadError(409, "x", "y");
  assert.equal(toUploadError(own), own);
});

Deno.test("badRequest is the one 400 that parsers of client input throw", () => {
  const e = badRequest("Invalid Upload-Offset header");
  assert.ok(e instanceof UploadError);
  assert.equal(e.status, 400);
  assert.equal(e.code, "bad-request");
  assert.equal(e.message, "Invalid Upload-Offset header");
});
