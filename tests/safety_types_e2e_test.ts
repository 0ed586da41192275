/**
 * `--allow-types` sniffing against the real server process: 415, the upload discarded, the client
 * stops with the message.
 */
import assert from "node:assert/strict";
import { assertExit, describeRun, eventsOf, tempDir } from "./helpers/client_cli.ts";
import { ClientProcess } from "./helpers/safety.ts";
import { startServer } from "./helpers/server.ts";
import { listFiles, md5, streamOf } from "./helpers/uploads.ts";
import {
  assertGone,
  call,
  CLIENT_TIMEOUT_MS,
  create,
  KiB,
  messageOf,
  metadata,
  OCTETS,
  patchAt,
} from "./helpers/safety_http.ts";
import { elfBytes, pngBytes, zipBytes } from "./helpers/sample_files.ts";

const ALLOW = "image/*,application/pdf";

Deno.test(
  "allow-types: a PNG passes; a ZIP, an ELF executable or a PNG declared as PDF get 415 and the upload is discarded",
  async () => {
    await using server = await startServer({ args: ["--allow-types", ALLOW] });

    const png = pngBytes(200 * KiB, 61);
    const good = await create(server, {
      "Upload-Length": String(png.length),
      "Upload-Metadata": metadata({ filename: "a.png", filetype: "image/png" }),
    });
    const stored = await patchAt(server, good.path, 0, png);
    assert.equal(stored.status, 204, stored.text);
    const got = await fetch(server.origin + good.path);
    assert.equal(got.status, 200);
    assert.equal(md5(new Uint8Array(await got.arrayBuffer())), md5(png));

    const refused: [string, Uint8Array<ArrayBuffer>, Record<string, string>, RegExp][] = [
      ["a ZIP", zipBytes(100 * KiB, 62), { filename: "a.zip" }, /application\/zip/],
      ["an ELF executable", elfBytes(100 * KiB, 63), {}, /unrecognised|not allowed|accepts/i],
      ["a ZIP declared as PNG", zipBytes(100 * KiB, 64), { filetype: "image/png" }, /zip/],
      ["a PNG declared as PDF", pngBytes(100 * KiB, 65), { filetype: "application/pdf" }, /pdf/],
    ];
    for (const [what, bytes, meta, says] of refused) {
      const upload = await create(server, {
        "Upload-Length": String(bytes.length),
        ...(Object.keys(meta).length ? { "Upload-Metadata": metadata(meta) } : {}),
      });
      const res = await patchAt(server, upload.path, 0, bytes);
      assert.equal(res.status, 415, `${what}: ${res.text}`);
      assert.match(messageOf(res), says, what);
      assert.equal((await call(server, "HEAD", upload.path)).status, 410, `${what}: still there`);
      await assertGone(server, upload.id, what);
    }

    // The same with the first bytes in the POST (creation-with-upload), and sent chunked.
    const before = await listFiles(server.dir);
    const post = await call(server, "POST", "/files", {
      headers: { "Upload-Length": String(100 * KiB), "Content-Type": OCTETS },
      body: streamOf(zipBytes(100 * KiB, 66), [3, 700, 65536]),
    });
    assert.equal(post.status, 415, post.text);
    assert.deepEqual(await listFiles(server.dir), before, "the refused POST left files behind");

    // A final upload whose first part is a ZIP is refused when assembled, and discarded.
    const zip = zipBytes(10 * KiB, 67);
    const part = await create(server, {
      "Upload-Length": String(zip.length),
      "Upload-Concat": "partial",
    });
    assert.equal((await patchAt(server, part.path, 0, zip)).status, 204);
    const beforeFinal = await listFiles(server.dir);
    const final = await call(server, "POST", "/files", {
      headers: { "Upload-Concat": `final;${part.url}` },
    });
    assert.equal(final.status, 415, final.text);
    assert.deepEqual(
      (await listFiles(server.dir)).filter((f) => !f.endsWith(".info")),
      beforeFinal.filter((f) => !f.endsWith(".info")),
      "the refused final upload left its data behind",
    );
  },
);

Deno.test(
  "allow-types: a disallowed file sent as a partial upload is never served back",
  async () => {
    // Parts are sniffed only when a final upload is assembled (only the first part's first bytes
    // are the file's). A part on its own must then not be a way around the type check.
    await using server = await startServer({ args: ["--allow-types", ALLOW] });
    const zip = zipBytes(10 * KiB, 68);
    const part = await create(server, {
      "Upload-Length": String(zip.length),
      "Upload-Concat": "partial",
      "Upload-Metadata": metadata({ filename: "evil.zip" }),
    });
    assert.equal((await patchAt(server, part.path, 0, zip)).status, 204);
    const got = await fetch(server.origin + part.path);
    const body = new Uint8Array(await got.arrayBuffer());
    assert.ok(
      got.status >= 400 || md5(body) !== md5(zip),
      `GET of a partial upload served the ZIP that --allow-types ${ALLOW} refuses (${got.status})`,
    );
  },
);

Deno.test(
  "allow-types: the client uploading a disallowed file exits 5 with the server's message; an allowed one succeeds",
  async () => {
    await using server = await startServer({ args: ["--allow-types", ALLOW] });
    await using dir = await tempDir("resumable-safety-");
    const zip = `${dir.path}/archive.zip`;
    await Deno.writeFile(zip, zipBytes(150 * KiB, 71));
    const png = `${dir.path}/photo.png`;
    const pngSource = pngBytes(150 * KiB, 72);
    await Deno.writeFile(png, pngSource);
    const args = (file: string) => [
      "upload",
      file,
      "--endpoint",
      server.url,
      "--state-dir",
      `${dir.path}/state`,
      "--chunk-size",
      "64KiB",
    ];

    {
      await using run = ClientProcess.spawn(args(zip));
      const refused = await run.finish(CLIENT_TIMEOUT_MS);
      assertExit(refused, 5);
      assert.match(refused.stderr, /415/, describeRun(refused));
      assert.match(
        refused.stderr,
        /accepts only image\/\*, application\/pdf/,
        describeRun(refused),
      );
      assert.doesNotMatch(refused.stderr, /retry/i, "a 415 is final, not retried");
      const left = (await listFiles(server.dir)).filter((f) => !f.endsWith("/"));
      for (const file of left) {
        // Created, then refused at its first PATCH: only a tombstone (no byte) may stay.
        assert.ok(file.endsWith(".info"), `the refused upload's bytes stayed: ${file}`);
        const info = JSON.parse(await Deno.readTextFile(`${server.dir}/${file}`));
        assert.equal(info.ended?.state, "terminated", `${file} is not a tombstone`);
      }
    }
    {
      await using run = ClientProcess.spawn([...args(png), "--json"]);
      const accepted = await run.finish(CLIENT_TIMEOUT_MS);
      assertExit(accepted, 0);
      const completed = eventsOf(accepted).find((e) => e.type === "completed");
      assert.equal(completed?.md5, md5(pngSource), describeRun(accepted));
    }
  },
);
