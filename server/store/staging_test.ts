import assert from "node:assert/strict";
import { checksumOf, parseChecksum } from "../../lib/checksum.ts";
import { spillFile } from "./spill_file.ts";
import { stage } from "./staging.ts";
import { WRITE_BUFFER } from "./write_buffer.ts";

Deno.test("stage keeps a small body in memory and spills a large one, removed on discard", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new Uint8Array(WRITE_BUFFER + 12345).map((_, i) => (i * 7) & 0xff);
    const spill = `${dir}/staged.tmp`;
    const chunks = [
      data.subarray(0, 1000),
      data.subarray(1000, WRITE_BUFFER),
      data.subarray(WRITE_BUFFER),
    ];
    const staged = await stage(ReadableStream.from(chunks), undefined, spillFile(spill));
    assert.ok((await Deno.stat(spill)).size === data.length, "spilled past one write buffer");
    assert.ok(staged.matches(parseChecksum(checksumOf("sha256", data))));
    assert.ok(!staged.matches(parseChecksum(checksumOf("sha256", data.subarray(1)))));
    assert.deepEqual(new Uint8Array(await new Response(staged.stream()).arrayBuffer()), data);
    await staged.discard();
    await assert.rejects(Deno.stat(spill), Deno.errors.NotFound);

    const small = await stage(
      ReadableStream.from([data.subarray(0, 10)]),
      "sha1",
      spillFile(spill),
    );
    await assert.rejects(Deno.stat(spill), Deno.errors.NotFound, "a small body stays in memory");
    assert.deepEqual(
      new Uint8Array(await new Response(small.stream()).arrayBuffer()),
      data.subarray(0, 10),
    );
    await small.discard();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
