import assert from "node:assert/strict";
import { childPeak, v8Flags } from "../tests/helpers/child_peak.ts";
import { taskArgv } from "../tests/helpers/deno_task.ts";
import { openFileSource } from "./file_source.ts";

const MiB = 1024 * 1024;

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

Deno.test("pieces read fresh are freed every few MiB under the client task's options", async () => {
  // A chunk too big to buffer (one PATCH of a whole file) is sent in fresh 1 MiB pieces: before,
  // dead pieces piled up to ~64 MiB until V8 collected them, and the client peaked at 130 MiB.
  const dir = await Deno.makeTempDir({ prefix: "resumable-source-" });
  try {
    const path = `${dir}/f`;
    await Deno.writeFile(path, new Uint8Array(0));
    await Deno.truncate(path, 128 * MiB);
    const module = JSON.stringify(new URL("./file_source.ts", import.meta.url).href);
    const prelude = `const { openFileSource } = await import(${module});`;
    // fetch holds a piece or two until they are written; the rest are dead.
    const loop = `const source = await openFileSource(${JSON.stringify(path)});
const sending = [];
for (let at = 0; at < source.size; at += ${MiB}) {
  sending.push(await source.read(at, ${MiB}));
  if (sending.length > 2) sending.shift();
  await new Promise((resolve) => setTimeout(resolve, 0));
  peak = Math.max(peak, Deno.memoryUsage().external);
}
source.close();`;
    const [task, without] = await Promise.all([
      childPeak(v8Flags(taskArgv("client")), prelude, loop),
      childPeak([], prelude, loop),
    ]);
    assert.ok(task < 12 * MiB, `${(task / MiB).toFixed(1)} MiB of pieces alive at once`);
    // The control, without the task's V8 options, shows what is at stake.
    assert.ok(without > 2 * task, `${(without / MiB).toFixed(1)} MiB without, vs ${task}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
