/**
 * The IETF draft's `104 (Upload Resumption Supported)` on the wire, against the real server: it
 * arrives before the client sends a byte of the body, a creation cut mid-body is resumed from its
 * Location, `100 Continue` still comes, and tus or plain requests never see a 1xx.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { RawConnection } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { randomBytes } from "./helpers/uploads.ts";

const SIZE = 4 * 1024 * 1024;
const V8 = { "Upload-Draft-Interop-Version": "8" };

function sha256(bytes: Uint8Array): string {
  return `sha-256=:${createHash("sha256").update(bytes).digest("base64")}:`;
}

Deno.test("a 104 with Location comes before the body; a creation cut mid-body resumes from it to the right digest", async () => {
  await using server = await startServer({ maxSize: "1GiB" });
  const data = randomBytes(SIZE, 1501);
  const conn = await RawConnection.connect(server.url);
  await conn.sendHead("POST", "/files", {
    ...V8,
    "Upload-Complete": "?1",
    "Content-Length": String(SIZE),
    "Content-Type": "application/octet-stream",
  });
  // Not a byte of the body yet: the upload exists already, and the client knows where.
  const early = await conn.readResponse({ interim: true });
  assert.equal(early.status, 104);
  assert.equal(early.statusText, "Upload Resumption Supported");
  assert.equal(early.headers.get("upload-draft-interop-version"), "8");
  assert.match(early.headers.get("upload-limit") ?? "", /max-size=1073741824/);
  const location = early.headers.get("location") ?? "";
  assert.ok(location.startsWith(server.url + "/"), `104 Location ${location}`);

  await conn.write(data.subarray(0, SIZE / 2));
  conn.close(); // cut mid-body
  await conn[Symbol.asyncDispose]();

  const head = await fetch(location, { method: "HEAD", headers: V8 });
  assert.equal(head.status, 204);
  assert.equal(head.headers.get("upload-complete"), "?0");
  assert.equal(
    head.headers.get("upload-length"),
    String(SIZE),
    "Content-Length + ?1 is the length",
  );
  assert.equal(head.headers.get("cache-control"), "no-store");
  assert.ok(head.headers.has("upload-limit"));
  const offset = Number(head.headers.get("upload-offset"));
  assert.ok(offset <= SIZE / 2, `the server holds at most what was sent, says ${offset}`);

  const rest = await fetch(location, {
    method: "PATCH",
    headers: {
      ...V8,
      "Content-Type": "application/partial-upload",
      "Upload-Offset": String(offset),
      "Upload-Complete": "?1",
    },
    body: data.subarray(offset),
  });
  await rest.body?.cancel();
  assert.equal(rest.status, 204);
  assert.equal(rest.headers.get("upload-complete"), "?1");
  assert.equal(rest.headers.get("upload-offset"), String(SIZE));
  assert.match(rest.headers.get("repr-digest") ?? "", new RegExp(escape(sha256(data))));
  const stored = await Deno.readFile(server.dataPath(location.split("/").pop()!));
  assert.equal(sha256(stored), sha256(data));
});

Deno.test("every interop version on the wire: 104, HEAD, a 409 problem document, DELETE", async () => {
  await using server = await startServer({ maxSize: 1000 });
  for (const v of [3, 4, 5, 6, 7, 8]) {
    const version = { "Upload-Draft-Interop-Version": String(v) };
    const [field, more] = v === 3 ? ["upload-incomplete", "?1"] : ["upload-complete", "?0"];
    await using conn = await RawConnection.connect(server.url);
    await conn.sendHead("POST", "/files", { ...version, [field]: more, "Content-Length": "10" });
    const early = await conn.readResponse({ interim: true });
    assert.equal(early.status, 104, `version ${v}`);
    assert.equal(early.headers.get("upload-draft-interop-version"), String(v));
    assert.equal(early.headers.has("upload-limit"), v >= 6, `version ${v}: Upload-Limit`);
    await conn.write("0123456789");
    const created = await conn.readResponse();
    assert.equal(created.status, 201, created.text());
    const location = created.headers.get("location")!;
    assert.equal(location, early.headers.get("location"), "the same Location in both");

    const head = await fetch(location, { method: "HEAD", headers: version });
    assert.equal(head.status, 204);
    assert.equal(head.headers.get(field), more, `version ${v}: ${field}`);
    assert.equal(head.headers.get("upload-offset"), "10");
    const conflict = await fetch(location, {
      method: "PATCH",
      headers: {
        ...version,
        "Content-Type": "application/partial-upload",
        "Upload-Offset": "3",
        [field]: more,
      },
      body: "x",
    });
    const problem = await conflict.json();
    assert.equal(conflict.status, 409);
    assert.equal(conflict.headers.get("upload-offset"), "10");
    assert.equal(problem.type.endsWith("#mismatching-upload-offset"), v >= 6, `version ${v}`);
    const deleted = await fetch(location, { method: "DELETE", headers: version });
    await deleted.body?.cancel();
    assert.equal(deleted.status, 204);
    const gone = await fetch(location, { method: "HEAD", headers: version });
    assert.equal(gone.status, v <= 6 ? 404 : 410, `version ${v}: HEAD after DELETE`);
  }
});

Deno.test("Expect: 100-continue still gets 100 Continue, and the 104 too, before the body", async () => {
  await using server = await startServer();
  await using conn = await RawConnection.connect(server.url);
  await conn.sendHead("POST", "/files", {
    ...V8,
    "Upload-Complete": "?1",
    "Content-Length": "5",
    Expect: "100-continue",
  });
  const interim = [
    await conn.readResponse({ interim: true }),
    await conn.readResponse({ interim: true }),
  ];
  assert.deepEqual(interim.map((r) => r.status).sort(), [100, 104]);
  await conn.write("hello");
  const final = await conn.readResponse();
  assert.equal(final.status, 201, final.text());
  assert.equal(final.headers.get("upload-offset"), "5");
});

Deno.test("tus and plain creations with a body never see a 1xx, nor an HTTP/1.0 client", async () => {
  await using server = await startServer();
  for (const headers of [{ "Tus-Resumable": "1.0.0", "Upload-Length": "5" }, {}]) {
    await using conn = await RawConnection.connect(server.url);
    await conn.sendHead("POST", "/files", {
      ...headers,
      "Content-Type": "application/offset+octet-stream",
      "Content-Length": "5",
    });
    await conn.write("hello");
    const first = await conn.readResponse({ interim: true });
    assert.equal(first.status, 201, first.text());
  }
  await using old = await RawConnection.connect(server.url);
  await old.write(
    `POST /files HTTP/1.0\r\nHost: ${server.hostname}\r\nUpload-Draft-Interop-Version: 8\r\n` +
      "Upload-Complete: ?1\r\nContent-Length: 5\r\n\r\nhello",
  );
  const first = await old.readResponse({ interim: true });
  assert.equal(first.status, 201, "RFC 9110: no 1xx to an HTTP/1.0 client");
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
