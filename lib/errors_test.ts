import assert from "node:assert/strict";
import { badRequest, toUploadError, UploadError } from "./errors.ts";

Deno.test("toUploadError passes an UploadError through and makes anything else a 500", () => {
  // A built-in parse error is the server's own failure (e.g. a damaged record), never the client's;
  // a file-system error too: what one means for the client is decided where stores' failures are.
  for (
    const error of [
      new SyntaxError("bad"),
      new RangeError("big"),
      new Deno.errors.NotFound("gone"),
      Object.assign(new Error("full"), { code: "ENOSPC" }),
      new Error("boom"),
    ]
  ) {
    const e = toUploadError(error);
    assert.deepEqual([e.status, e.code, e.message], [500, "internal", "Internal server error"]);
    assert.equal(e.cause, error);
  }
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
