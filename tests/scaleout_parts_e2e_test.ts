/**
 * No part left behind: an instance SIGKILLed after its parts reached the bucket but before it
 * recorded them leaves nothing in the store once the upload is completed on another instance, nor
 * once it is deleted. Checked where it matters, on Swift (whose `<bucket>+segments` container
 * keeps parts a completion leaves out, out of sight of S3 calls), through Swift's own API.
 * Skipped where the test S3-compatible server isn't Swift.
 */
import assert from "node:assert/strict";
import { download, scaleTest, services } from "./helpers/cluster.ts";
import { S3Tap } from "./helpers/s3_tap.ts";
import { testSwift } from "./helpers/swift.ts";
import { createUpload, head, md5, patch, randomBytes, streamOf } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const swift = services ? await testSwift(services) : undefined;
if (services && !swift) {
  console.warn("NOTICE: the Swift segment tests are skipped: the test S3 server is not Swift");
}

scaleTest(
  "parts uploaded but never recorded (SIGKILL in between) are in no segment after completion or DELETE",
  async ({ bucket, schema, start }) => {
    if (!swift) return;
    await using tap = S3Tap.start(new URL(services!.s3.endpoint));
    const a = await start(["--s3-endpoint", tap.origin]);
    const b = await start();
    const data = randomBytes(13 * MiB + 77, 17);
    const { id, path } = await createUpload(a, data.length);

    // A streams the whole upload in one PATCH; its parts reach Swift, their ETags never reach A.
    tap.holdAnswers((r) => r.method === "PUT" && r.query.has("partNumber"));
    const inFlight = patch(a, path, 0, streamOf(data)).catch((error) => error);
    const held = await waitFor(() => tap.requests.find((r) => r.held), {
      timeoutMs: 30_000,
      message: "A to send a part",
    });
    const part = `${id}/${held.query.get("uploadId")}/${held.query.get("partNumber")}`;
    await waitFor(() => swift.hasSegment(bucket, part), {
      timeoutMs: 30_000,
      message: `Swift to store ${part}`,
    });
    await a.kill("SIGKILL");
    assert.ok((await inFlight) instanceof Error, "the killed PATCH got no answer");
    const row = await schema.rows.get(id);
    assert.equal(row?.partCount, 0, "A recorded none of its parts");
    assert.ok((row?.nextPart ?? 0) > 0, "but had recorded that it was uploading them");

    // B resumes from what is recorded and completes the upload.
    const resumed = (await head(b, path)).offset!;
    const rest = await patch(b, path, resumed, streamOf(data.subarray(resumed)));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(rest.offset, data.length);
    assert.equal((await download(b, path)).md5, md5(data));

    // Swift keeps exactly the segments of the completed object.
    const made = (await swift.manifest(bucket, id)).sort();
    assert.equal(made.length, 3, `13 MiB in 5 MiB parts: ${made}`);
    let kept: string[] = [];
    const exact = await waitFor(async () => {
      kept = (await swift.segments(bucket, `${id}/`)).sort();
      return JSON.stringify(kept) === JSON.stringify(made);
    }, { message: () => `segments ${kept} to be the object's ${made}` }).catch((e) => e);
    assert.equal(exact, true, String(exact));
    assert.ok(made.includes(part), `A's unrecorded ${part} was replaced by the object's part`);

    const deleted = await fetch(b.origin + path, { method: "DELETE" });
    await deleted.body?.cancel();
    assert.equal(deleted.status, 204);
    await waitFor(async () => (kept = await swift.segments(bucket, `${id}/`)).length === 0, {
      message: () => `no segment to be left, not ${kept}`,
    });
    assert.equal(await swift.hasSegment(bucket, part), false);
  },
);
