/** `--quota` per owner (413) against the real server process. */
import assert from "node:assert/strict";
import { RawConnection } from "./helpers/raw_http.ts";
import { mintToken } from "./helpers/safety.ts";
import { startServer } from "./helpers/server.ts";
import { fileSize, md5, offsetOf, randomBytes, streamOf } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";
import {
  call,
  create,
  KiB,
  messageOf,
  MiB,
  OCTETS,
  patchAt,
  SECRET,
} from "./helpers/safety_http.ts";

Deno.test(
  "quota: per owner, checked at creation (413 naming the quota) and cutting deferred-length writes at it",
  async () => {
    await using server = await startServer({ args: ["--quota", "1MiB", "--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);
    const bob = await mintToken("bob", SECRET);
    const big = String(600 * KiB);

    const first = await create(server, { "Upload-Length": big }, alice);
    const second = await call(server, "POST", "/files", {
      token: alice,
      headers: { "Upload-Length": big },
    });
    assert.equal(second.status, 413, second.text);
    assert.match(messageOf(second), /quota/i);
    assert.ok(!second.headers.get("location"), "no upload was created");
    // Bob has his own quota.
    await create(server, { "Upload-Length": big }, bob);

    // A deferred-length upload grows with its bytes: it is cut where Alice's quota ends.
    const room = MiB - 600 * KiB;
    const deferred = await create(server, { "Upload-Defer-Length": "1" }, alice);
    const source = randomBytes(MiB, 81);
    // Announced too long: refused before a byte is read.
    const announced = await patchAt(server, deferred.path, 0, source, alice);
    assert.equal(announced.status, 413, announced.text);
    assert.match(messageOf(announced), /quota/i);
    assert.equal(await fileSize(server.dataPath(deferred.id)), 0);
    // Streamed (no Content-Length): stored up to the quota, then cut.
    const streamed = await patchAt(server, deferred.path, 0, streamOf(source, [32 * KiB]), alice);
    assert.equal(streamed.status, 413, streamed.text);
    assert.match(messageOf(streamed), /quota/i);
    assert.equal(offsetOf(streamed.headers), room, "cut exactly at the quota");
    const headRes = await call(server, "HEAD", deferred.path, { token: alice });
    assert.equal(offsetOf(headRes.headers), room);
    const stored = await Deno.readFile(server.dataPath(deferred.id));
    assert.equal(stored.length, room);
    assert.equal(md5(stored), md5(source.subarray(0, room)));
    // Full: not another byte.
    const more = await patchAt(server, deferred.path, room, "x", alice);
    assert.equal(more.status, 413, more.text);

    // Deleting frees quota.
    assert.equal((await call(server, "DELETE", first.path, { token: alice })).status, 204);
    await create(server, { "Upload-Length": String(500 * KiB) }, alice);
  },
);

Deno.test(
  "quota: concurrent creations of one owner can't add up to more than the quota",
  async () => {
    await using server = await startServer({ args: ["--quota", "1MiB", "--auth-secret", SECRET] });
    const alice = await mintToken("alice", SECRET);

    // Ten creations of 600 KiB at once: only one fits.
    const creations = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(server, "POST", "/files", {
          token: alice,
          headers: { "Upload-Length": String(600 * KiB) },
        })),
    );
    const created = creations.filter((r) => r.status === 201).length;
    assert.equal(
      created,
      1,
      `${created} uploads of 600 KiB were created against a 1 MiB quota ` +
        `(statuses ${creations.map((r) => r.status).join(" ")})`,
    );
  },
);

Deno.test(
  "quota: deferred-length uploads of one owner streamed at once stop together at the quota",
  async () => {
    await using server = await startServer({ args: ["--quota", "4MiB", "--auth-secret", SECRET] });
    const bob = await mintToken("bob", SECRET);
    const uploads = await Promise.all(
      [0, 1, 2].map(() => create(server, { "Upload-Defer-Length": "1" }, bob)),
    );
    // Three bodies of 3 MiB each, all being written at once: 1.5 MiB of each first.
    const sources = uploads.map((_, i) => randomBytes(3 * MiB, 90 + i));
    const conns: RawConnection[] = [];
    try {
      for (const [i, upload] of uploads.entries()) {
        const conn = await RawConnection.connect(server.url);
        conns.push(conn);
        await conn.sendHead("PATCH", upload.path, {
          "Content-Type": OCTETS,
          "Upload-Offset": "0",
          "Transfer-Encoding": "chunked",
          Authorization: `Bearer ${bob}`,
        });
        await conn.writeChunked(sources[i]!.subarray(0, 1.5 * MiB), { end: false });
      }
      await waitFor(async () => {
        for (const [i, upload] of uploads.entries()) {
          const size = (await fileSize(server.dataPath(upload.id))) ?? 0;
          if (size < MiB && !conns[i]!.closed) return false;
        }
        return true;
      }, { message: "all three PATCHes to be writing" });
      // Then the rest of each.
      await Promise.all(
        conns.map((conn, i) => conn.writeChunked(sources[i]!.subarray(1.5 * MiB)).catch(() => {})),
      );
      const answers = await Promise.all(
        conns.map((conn) => conn.readResponse({ timeoutMs: 10_000 }).catch((e) => String(e))),
      );
      let stored = 0;
      for (const [i, upload] of uploads.entries()) {
        const data = await Deno.readFile(server.dataPath(upload.id));
        assert.equal(md5(data), md5(sources[i]!.subarray(0, data.length)), "stored bytes");
        stored += data.length;
      }
      assert.ok(
        stored <= 4 * MiB,
        `Bob's deferred uploads hold ${stored} bytes against a 4 MiB quota (answers ${
          answers.map((a) => typeof a === "string" ? a : `${a.status}@${offsetOf(a.headers)}`)
            .join(" ")
        })`,
      );
    } finally {
      for (const conn of conns) await conn[Symbol.asyncDispose]();
    }
  },
);
