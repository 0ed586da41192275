import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bytesSource } from "./core/source.ts";
import { fingerprint } from "./fingerprint.ts";

Deno.test("the fingerprint is the SHA-256 of the identity, the first and the last MiB", async () => {
  const MiB = 1024 * 1024;
  const data = new Uint8Array(3 * MiB + 5).map((_, i) => (i * 11 + (i >> 12)) & 0xff);
  const identity = { path: "/tmp/a file", mtime: 1234, endpoint: "http://127.0.0.1:1080/files" };
  // The same value as always: uploads remembered by an earlier client still resume.
  const expected = createHash("sha256")
    .update(JSON.stringify([identity.path, data.length, identity.mtime, identity.endpoint]))
    .update(data.subarray(0, MiB))
    .update(data.subarray(data.length - MiB))
    .digest("hex");
  assert.equal(await fingerprint(bytesSource(data), identity), expected);
  const other = await fingerprint(bytesSource(data), { ...identity, mtime: 1235 });
  assert.notEqual(other, expected);
});
