/**
 * Freeing space needs no space: on a real tmpfs with 0 bytes free, DELETE answers 204, the
 * upload's bytes are gone from the filesystem, and the upload then answers 410 like any
 * terminated one (its tombstone is written into the room its bytes left).
 */
import assert from "node:assert/strict";
import { startServer } from "./helpers/server.ts";
import { fillUp, freeBytes, mountTmpfs } from "./helpers/tmpfs.ts";
import { createUpload, head, patch, randomBytes } from "./helpers/uploads.ts";

const MiB = 1024 * 1024;

Deno.test("DELETE on a completely full disk frees the space; the upload then answers 410", async () => {
  await using fs = await mountTmpfs(4 * MiB);
  if (!fs) {
    console.log("DELETE on a full disk: not run (mounting a tmpfs is not permitted here)");
    return;
  }
  // --min-free 0: a 4 MiB filesystem is "full" by the default readiness threshold.
  await using server = await startServer({ args: ["--dir", fs.dir, "--min-free", "0"] });
  const source = randomBytes(MiB, 61);
  const upload = await createUpload(server, source.length);
  assert.equal((await patch(server, upload.path, 0, source)).status, 204);

  await fillUp(`${fs.dir}/filler`);
  assert.equal(await freeBytes(fs.dir), 0, "the filesystem is full");

  const res = await fetch(server.origin + upload.path, { method: "DELETE" });
  assert.equal(res.status, 204, await res.text());
  const free = await freeBytes(fs.dir);
  assert.ok(free >= source.length - 64 * 1024, `${free} bytes free after the DELETE`);
  assert.equal((await head(server, upload.path)).status, 410);
  const get = await fetch(server.origin + upload.path);
  assert.equal(get.status, 410, await get.text());
});
