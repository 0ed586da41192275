import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { checksumCheck } from "./checksum_check.ts";
import type { Context } from "./context.ts";

const SHA1_ABC = "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=";

function ctx(headers: Record<string, string>, trailers?: Headers): Context {
  const req = new Request("http://localhost/files/x", { method: "PATCH", headers });
  return {
    req,
    deps: trailers ? { trailers: () => Promise.resolve(trailers) } : {},
  } as unknown as Context;
}

Deno.test("checksumCheck reads Upload-Checksum from the header, refusing a bad one at once", async () => {
  const check = checksumCheck(ctx({ "upload-checksum": SHA1_ABC }));
  assert.equal(check?.algorithm, "sha1");
  assert.equal((await check!.expected()).algorithm, "sha1");
  assert.throws(() => checksumCheck(ctx({ "upload-checksum": "sha1" })));
});

Deno.test("checksumCheck waits for an announced trailer, in any case and spacing", async () => {
  const trailer = new Headers({ "upload-checksum": SHA1_ABC });
  const check = checksumCheck(ctx({ trailer: "X-Other ,  UPLOAD-CHECKSUM" }, trailer));
  assert.equal((await check!.expected()).algorithm, "sha1");
  const missing = checksumCheck(ctx({ trailer: "upload-checksum" }, new Headers()));
  await assert.rejects(missing!.expected(), (e) => e instanceof UploadError && e.status === 400);
});

Deno.test("checksumCheck: nothing to check without a header or an announced trailer", () => {
  assert.equal(checksumCheck(ctx({})), undefined);
  assert.equal(checksumCheck(ctx({ trailer: "upload-checksum-x" }, new Headers())), undefined);
  assert.equal(checksumCheck(ctx({ trailer: "upload-checksum" })), undefined);
});
