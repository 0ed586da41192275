/**
 * `client download` with Range continuation, and both commands' verification: a server digest
 * that disagrees with the bytes is exit 3 naming both digests.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { assertExit, assertOneErrorLine, completedEvent, digestsOf } from "./helpers/client_cli.ts";
import { client, ClientFixture, MiB, readRange } from "./helpers/client_runs.ts";

Deno.test(
  "client download of a completed upload writes the source bytes, and continues a partial OUT with a Range request",
  async () => {
    await using fx = await ClientFixture.start();
    const size = 16 * MiB + 777;
    const source = await fx.generate("source.bin", size, 9);
    const up = await fx.complete(fx.upload(source.path, "--json"));
    const path = new URL(completedEvent(up).url).pathname;
    const recorder = fx.record();

    const whole = fx.path("whole.out");
    const full = await fx.complete(["download", recorder.url(path), whole]);
    assert.equal((await digestsOf(whole)).md5, source.md5);
    assert.match(
      full.stdout,
      new RegExp(`^MD5 ${source.md5} matched\nSHA-256 ${source.sha256} `, "m"),
    );
    const gets = recorder.byMethod("GET");
    assert.equal(gets.length, 1);
    assert.equal(gets[0]!.status, 200);
    assert.equal(gets[0]!.headers.get("range"), null);

    const partial = fx.path("partial.out");
    const have = 5 * MiB + 3;
    await Deno.writeFile(partial, await readRange(source.path, 0, have));
    await fx.complete(["download", recorder.url(path), partial]);
    assert.equal((await digestsOf(partial)).md5, source.md5);
    const ranged = recorder.byMethod("GET");
    assert.equal(ranged.length, 1, "one GET continues the partial file");
    assert.equal(ranged[0]!.headers.get("range"), `bytes=${have}-`);
    assert.equal(ranged[0]!.status, 206);
    assert.equal(ranged[0]!.responseBytes, size - have, "only the missing bytes were fetched");
  },
);

/** A Repr-Digest of bytes other than the upload's: what a lying or broken server would send. */
function wrongDigest(): { header: string; md5: string; sha256: string } {
  const other = new TextEncoder().encode("not the uploaded bytes");
  const md5 = createHash("md5").update(other);
  const sha256 = createHash("sha256").update(other);
  const md5b = md5.copy().digest("base64");
  const shab = sha256.copy().digest("base64");
  return {
    header: `sha-256=:${shab}:, md5=:${md5b}:`,
    md5: md5.digest("hex"),
    sha256: sha256.digest("hex"),
  };
}

Deno.test(
  "when the server's Repr-Digest disagrees with the file, upload exits 3 and prints both digests",
  async () => {
    await using fx = await ClientFixture.start();
    const wrong = wrongDigest();
    const recorder = fx.record({ rewriteReprDigest: wrong.header });
    const source = await fx.generate("lied-about.bin", 8 * MiB + 1, 10);
    const run = await client(fx.upload(source.path));
    assertExit(run, 3);
    const line = assertOneErrorLine(run);
    for (const hex of [source.md5, source.sha256, wrong.md5, wrong.sha256]) {
      assert.ok(line.includes(hex), `the error should name ${hex}: ${line}`);
    }
    assert.ok(!/^uploaded /m.test(run.stdout), "no success line");
    await recorder.settled();
    assert.ok(
      recorder.requests.some((r) => r.responseHeaders?.has("repr-digest")),
      "the server did send a Repr-Digest (which the recorder rewrote)",
    );
  },
);

Deno.test(
  "when the server's Repr-Digest disagrees with the downloaded bytes, download exits 3 and prints both digests",
  async () => {
    await using fx = await ClientFixture.start();
    const wrong = wrongDigest();
    const source = await fx.generate("source.bin", 4 * MiB, 11);
    const up = await fx.complete(fx.upload(source.path, "--json"));
    const path = new URL(completedEvent(up).url).pathname;
    const recorder = fx.record({ rewriteReprDigest: wrong.header });
    const run = await client(["download", recorder.url(path), fx.path("out.bin")]);
    assertExit(run, 3);
    const line = assertOneErrorLine(run);
    assert.ok(line.includes(source.sha256), `the error should name the local SHA-256: ${line}`);
    assert.ok(
      line.includes(wrong.sha256) || line.includes(wrong.md5),
      `the error should name the server's digest: ${line}`,
    );
  },
);
