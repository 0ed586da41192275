/**
 * The server's own broken state against a real server process: an upload whose info file holds
 * garbage is a 500 that doesn't blame the client, logged with the paths an operator repairs.
 */
import assert from "node:assert/strict";
import { TUS_VERSION } from "../lib/protocol.ts";
import { CORRUPT_RECORD_MESSAGE } from "../server/http/store_errors.ts";
import { startServer } from "./helpers/server.ts";
import { createUpload, head, patch } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";

Deno.test("a garbage .info file: HEAD, PATCH, GET and DELETE answer 500 and the log names the path", async () => {
  await using server = await startServer();
  const upload = await createUpload(server, 10);
  assert.equal((await patch(server, upload.path, 0, new Uint8Array(4))).status, 204);
  const info = server.infoPath(upload.id);
  const intact = await Deno.readTextFile(info);
  await Deno.writeTextFile(info, '{"v":1,"id":"' + "\u0000garbage");

  const url = server.origin + upload.path;
  const tus = { "Tus-Resumable": TUS_VERSION };
  for (const headers of [{}, tus]) {
    const res = await fetch(url, { method: "HEAD", headers });
    await res.body?.cancel();
    assert.equal(res.status, 500, `HEAD ${JSON.stringify(headers)}`);
  }

  const plain = await patch(server, upload.path, 4, new Uint8Array(6));
  assert.equal(plain.status, 500, plain.text);
  assert.deepEqual(JSON.parse(plain.text), {
    error: { code: "corrupt-record", message: CORRUPT_RECORD_MESSAGE },
  });
  const tusPatch = await patch(server, upload.path, 4, new Uint8Array(6), tus);
  assert.equal(tusPatch.status, 500, tusPatch.text);
  assert.equal(tusPatch.text.trim(), CORRUPT_RECORD_MESSAGE);

  for (const method of ["GET", "DELETE"]) {
    const res = await fetch(url, { method, headers: tus });
    const text = await res.text();
    assert.equal(res.status, 500, `${method}: ${text}`);
    assert.ok(!text.includes(server.dir), `${method} tells the client no server path: ${text}`);
  }

  // The log tells the operator which record is damaged, and where its bytes are.
  const line = await waitFor(
    () => server.stderr.split("\n").find((l) => l.includes(info)),
    { message: `a log line naming ${info}`, timeoutMs: 10_000 },
  );
  assert.ok(line.includes(server.dataPath(upload.id)), line);
  assert.match(line, /remove or fix it/);

  // The repair the log asks for works: the upload resumes where its bytes end.
  await Deno.writeTextFile(info, intact);
  const repaired = await head(server, upload.path);
  assert.equal(repaired.status, 200);
  assert.equal(repaired.offset, 4);
});
