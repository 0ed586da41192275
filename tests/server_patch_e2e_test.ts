/**
 * End-to-end PATCH behaviour against the real server process: streaming bodies, offset
 * mismatches, durability of acknowledged bytes, external truncation, racing writers and
 * half-dead connections.
 */

import assert from "node:assert/strict";
import { RawConnection, type RawResponse } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import {
  createUpload,
  fileSize,
  head,
  md5,
  offsetOf,
  patch,
  randomBytes,
  startPatch,
  streamOf,
} from "./helpers/uploads.ts";
import { pollUntil } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const OCTETS = "application/offset+octet-stream";

Deno.test("a PATCH streamed without Content-Length stores exactly the bytes sent", async () => {
  await using server = await startServer();
  const source = randomBytes(6 * MiB + 12_345, 1);
  const upload = await createUpload(server, source.length);

  // A ReadableStream body has no known length: fetch sends it chunked.
  const res = await patch(
    server,
    upload.path,
    0,
    streamOf(source, [65_536, 1_000, 333_333, 7]),
  );

  assert.equal(res.status, 204, res.text);
  assert.equal(res.offset, source.length);
  const stored = await Deno.readFile(server.dataPath(upload.id));
  assert.equal(stored.length, source.length);
  assert.equal(md5(stored), md5(source));
  assert.equal((await head(server, upload.path)).offset, source.length);
});

Deno.test("a raw chunked PATCH with odd chunk sizes stores exactly the bytes sent", async () => {
  await using server = await startServer();
  const source = randomBytes(3 * MiB + 1, 2);
  const upload = await createUpload(server, source.length);
  await using conn = await RawConnection.connect(server.url);

  await conn.sendHead("PATCH", upload.path, {
    "Content-Type": OCTETS,
    "Upload-Offset": "0",
    "Transfer-Encoding": "chunked",
  });
  const sending = conn.writeChunked(source, { chunkSize: 100_003 });
  const res = await conn.readResponse({ timeoutMs: 15_000 });
  await sending;

  assert.equal(res.status, 204, res.text());
  assert.equal(offsetOf(res.headers), source.length);
  assert.equal(md5(await Deno.readFile(server.dataPath(upload.id))), md5(source));
});

Deno.test(
  "a PATCH with a wrong Upload-Offset answers 409 with the current offset, promptly and without writing",
  async () => {
    await using server = await startServer();
    const source = randomBytes(4 * MiB, 3);
    const upload = await createUpload(server, source.length);
    const first = await patch(server, upload.path, 0, source.subarray(0, MiB));
    assert.equal(first.status, 204, first.text);
    const data = server.dataPath(upload.id);
    const before = await Deno.readFile(data);

    for (const wrong of [0, MiB / 2, MiB - 1, MiB + 1, 3 * MiB]) {
      // Announce a 16 MiB body but send only 256 KiB of it: the answer must not wait for the rest.
      await using conn = await RawConnection.connect(server.url);
      await conn.sendHead("PATCH", upload.path, {
        "Content-Type": OCTETS,
        "Upload-Offset": String(wrong),
        "Content-Length": String(16 * MiB),
      });
      const sending = conn.write(randomBytes(256 * 1024, 100 + wrong)).catch(() => {});
      let res: RawResponse;
      try {
        res = await conn.readResponse({ timeoutMs: 3000 });
      } finally {
        conn.close();
        await sending;
      }
      assert.equal(res.status, 409, `Upload-Offset ${wrong}: ${res.text()}`);
      assert.equal(offsetOf(res.headers), MiB, `Upload-Offset ${wrong}`);
      assert.equal(JSON.parse(res.text()).error.code, "offset-mismatch");

      const after = await Deno.readFile(data);
      assert.equal(after.length, before.length, `Upload-Offset ${wrong} changed the file size`);
      assert.equal(md5(after), md5(before), `Upload-Offset ${wrong} changed the stored bytes`);
    }
    assert.equal((await head(server, upload.path)).offset, MiB);
  },
);

Deno.test(
  "a PATCH with a wrong Upload-Offset closes the connection instead of reading the rest of the body",
  async () => {
    await using server = await startServer();
    const upload = await createUpload(server, 64 * MiB);
    assert.equal((await patch(server, upload.path, 0, randomBytes(1000, 4))).status, 204);

    await using conn = await RawConnection.connect(server.url);
    await conn.sendHead("PATCH", upload.path, {
      "Content-Type": OCTETS,
      "Upload-Offset": "0",
      "Content-Length": String(32 * MiB),
    });
    const sending = conn.write(randomBytes(MiB, 5)).catch(() => {});
    try {
      const res = await conn.readResponse({ timeoutMs: 3000 });
      assert.equal(res.status, 409, res.text());
      // The client stays silent with 31 MiB still announced. A server that reads (drains) the
      // rest would keep the connection open waiting for it; one that doesn't closes it.
      await conn.waitForClose({ timeoutMs: 3000 });
    } finally {
      conn.close();
      await sending;
    }
    assert.equal(await fileSize(server.dataPath(upload.id)), 1000);
  },
);

Deno.test(
  "a client that keeps sending after a 409 is cut off after a bounded discard, not drained",
  async () => {
    await using server = await startServer();
    const upload = await createUpload(server, 512 * MiB);
    assert.equal((await patch(server, upload.path, 0, randomBytes(1000, 4))).status, 204);

    await using conn = await RawConnection.connect(server.url);
    await conn.sendHead("PATCH", upload.path, {
      "Content-Type": OCTETS,
      "Upload-Offset": "0",
      "Content-Length": String(256 * MiB),
    });
    const piece = randomBytes(MiB, 8);
    let sent = 0;
    let cut = false;
    const deadline = Date.now() + 20_000;
    while (sent < 256 * MiB && Date.now() < deadline) {
      try {
        await conn.write(piece);
        sent += piece.length;
      } catch {
        cut = true;
        break;
      }
    }
    conn.close();
    assert.ok(cut, `the server read all ${sent} bytes instead of cutting the connection`);
    // 16 MiB discard bound plus what sits in socket buffers on both sides.
    assert.ok(sent < 64 * MiB, `${sent} bytes were accepted before the cut`);
    assert.equal(await fileSize(server.dataPath(upload.id)), 1000);
  },
);

Deno.test("when a PATCH answers 204, its bytes are already in the data file", async () => {
  await using server = await startServer();
  const sizes = [1, 4096, 65_535, 65_537, 300_000, MiB, MiB + 3, 7, 512 * 1024, 123_457];
  const total = sizes.reduce((a, b) => a + b, 0);
  const source = randomBytes(total, 6);
  const upload = await createUpload(server, total);
  const data = server.dataPath(upload.id);

  let offset = 0;
  for (const [i, size] of sizes.entries()) {
    const chunk = source.subarray(offset, offset + size);
    // Alternate fixed-length and chunked bodies.
    const body = i % 2 === 0 ? chunk : streamOf(chunk, [40_000]);
    const res = await patch(server, upload.path, offset, body);
    offset += size;
    assert.equal(res.status, 204, res.text);
    assert.equal(res.offset, offset);
    // Read right after the 204: every acknowledged byte must be there already.
    const stored = await Deno.readFile(data);
    assert.equal(stored.length, offset, `after chunk ${i}`);
    assert.equal(md5(stored), md5(source.subarray(0, offset)), `after chunk ${i}`);
  }
});

Deno.test(
  "after the data file is truncated behind the server's back, HEAD reports the truncated size and the upload continues from there",
  async () => {
    await using server = await startServer();
    const source = randomBytes(4 * MiB, 7);
    const upload = await createUpload(server, source.length);
    assert.equal((await patch(server, upload.path, 0, source.subarray(0, 3 * MiB))).status, 204);

    const truncated = MiB + 123;
    await Deno.truncate(server.dataPath(upload.id), truncated);

    const status = await head(server, upload.path);
    assert.equal(status.status, 200);
    assert.equal(status.offset, truncated);
    // The old offset is gone: a client still believing in it is told the truth.
    const stale = await patch(server, upload.path, 3 * MiB, source.subarray(3 * MiB));
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.offset, truncated);

    const resumed = await patch(server, upload.path, truncated, source.subarray(truncated));
    assert.equal(resumed.status, 204, resumed.text);
    assert.equal(resumed.offset, source.length);
    assert.equal(md5(await Deno.readFile(server.dataPath(upload.id))), md5(source));
  },
);

Deno.test(
  "two racing PATCHes at the same offset store a prefix of exactly one body, never a mix",
  async (t) => {
    const size = 4 * MiB;
    const bodies = { a: randomBytes(size, 8), b: randomBytes(size, 9) };
    bodies.b[0] = bodies.a[0]! ^ 0xff; // any non-empty prefix matches at most one body

    // "together": both requests start at once. "a-first": A is already writing when B arrives.
    for (const scenario of ["together", "a-first"] as const) {
      await t.step(scenario, async () => {
        await using server = await startServer();
        const upload = await createUpload(server, size);
        const data = server.dataPath(upload.id);
        await using a = await RawConnection.connect(server.url);
        await using b = await RawConnection.connect(server.url);
        const headers = {
          "Content-Type": OCTETS,
          "Upload-Offset": "0",
          "Content-Length": String(size),
        };

        await a.sendHead("PATCH", upload.path, headers);
        const responseA = a.readResponse({ timeoutMs: 20_000 });
        let startB = 0;
        if (scenario === "a-first") {
          startB = 2 * MiB;
          const headStart = feed(a, bodies.a.subarray(0, startB), responseA);
          await pollUntil(async () => ((await fileSize(data)) ?? 0) > 0, { timeoutMs: 5000 });
          await b.sendHead("PATCH", upload.path, headers);
          await headStart;
        } else {
          await b.sendHead("PATCH", upload.path, headers);
        }
        const responseB = b.readResponse({ timeoutMs: 20_000 });
        await Promise.all([
          feed(a, bodies.a.subarray(startB), responseA),
          feed(b, bodies.b, responseB),
        ]);
        const results = await Promise.allSettled([responseA, responseB]);
        a.close();
        b.close();

        const statuses = results.map((r) => r.status === "fulfilled" ? r.value.status : r.reason);
        for (const status of statuses) assert.ok([204, 409, 423].includes(status), `${statuses}`);
        assert.ok(statuses.includes(204), `no PATCH succeeded: ${statuses}`);

        const stored = await Deno.readFile(data);
        const isPrefixOf = (body: Uint8Array) =>
          stored.length > 0 && md5(stored) === md5(body.subarray(0, stored.length));
        const matches = [isPrefixOf(bodies.a), isPrefixOf(bodies.b)].filter(Boolean).length;
        assert.equal(matches, 1, `${stored.length} stored bytes are not a prefix of one body`);

        const offsets = results.flatMap((r) =>
          r.status === "fulfilled" && r.value.status === 204 ? [offsetOf(r.value.headers)] : []
        );
        assert.equal(Math.max(...offsets.map(Number)), stored.length);
        assert.equal((await head(server, upload.path)).offset, stored.length);
      });
    }
  },
);

Deno.test(
  "a half-dead PATCH is replaced by a new HEAD and PATCH that finish the upload",
  async () => {
    await using server = await startServer();
    const source = randomBytes(4 * MiB, 10);
    const half = source.length / 2;
    const upload = await createUpload(server, source.length);
    const data = server.dataPath(upload.id);

    await using stale = await startPatch(server, upload.path, source.length);
    await stale.write(source.subarray(0, half));
    // Then silence: the connection stays open and sends nothing more. Wait until the server has
    // the half (it shows on disk), or long enough that it certainly arrived.
    await pollUntil(async () => (await fileSize(data)) === half, { timeoutMs: 5000 });

    const started = Date.now();
    const status = await head(server, upload.path);
    const elapsed = Date.now() - started;
    assert.equal(status.status, 200);
    assert.ok(elapsed < 3000, `HEAD took ${elapsed} ms behind a half-dead PATCH`);
    assert.equal(status.offset, half);

    // The stopped request is told what it stored.
    const staleRes = await stale.readResponse({ timeoutMs: 3000 });
    assert.equal(staleRes.status, 204, staleRes.text());
    assert.equal(offsetOf(staleRes.headers), half);
    stale.close();

    const rest = await patch(server, upload.path, half, source.subarray(half));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(rest.offset, source.length);
    assert.equal(md5(await Deno.readFile(data)), md5(source));
  },
);

/**
 * Writes `body` in 64 KiB pieces until done or until `response` settles (the server has answered,
 * so the rest would go nowhere). Write failures (connection closed) end feeding quietly.
 */
async function feed(
  conn: RawConnection,
  body: Uint8Array,
  response: Promise<unknown>,
): Promise<void> {
  let answered = false;
  const settled = response.then(() => answered = true, () => answered = true);
  for (let at = 0; at < body.length && !answered; at += 65_536) {
    const write = conn.write(body.subarray(at, at + 65_536));
    const failed = await Promise.race([write.then(() => false, () => true), settled]);
    if (failed === true && !answered) return;
  }
}
