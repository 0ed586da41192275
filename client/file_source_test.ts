import assert from "node:assert/strict";
import { openFileSource } from "./file_source.ts";

Deno.test("concurrent range reads of one file source each get their own bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "resumable-source-" });
  const source = await (async () => {
    const bytes = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 7 + (i >> 12)) & 0xff);
    await Deno.writeFile(`${dir}/f`, bytes);
    return { bytes, file: await openFileSource(`${dir}/f`) };
  })();
  try {
    const ranges = Array.from({ length: 64 }, (_, i) => [(i * 65_537) % 4_000_000, 50_000]);
    const reads = await Promise.all(ranges.map(([at, n]) => source.file.read(at!, n!)));
    reads.forEach((got, i) => {
      const [at, n] = ranges[i]!;
      assert.deepEqual(got, source.bytes.subarray(at!, at! + n!), `read ${i} at ${at}`);
    });
  } finally {
    source.file.close?.();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file source notices a change of size or mtime", async () => {
  const dir = await Deno.makeTempDir({ prefix: "resumable-source-" });
  try {
    await Deno.writeFile(`${dir}/f`, new Uint8Array(100));
    const source = await openFileSource(`${dir}/f`);
    await source.check?.();
    await Deno.writeFile(`${dir}/f`, new Uint8Array(10), { append: true });
    await assert.rejects(source.check!(), /changed/);
    source.close?.();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
