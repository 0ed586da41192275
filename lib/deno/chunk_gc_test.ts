import assert from "node:assert/strict";
import { SERVER_TASK_FLAGS } from "../../tests/helpers/deno_task.ts";

const MiB = 1024 * 1024;

/**
 * Peak external memory of a child Deno (with the `server` task's V8 options) that receives
 * 128 MiB as fresh 64 KiB chunks, copying each into one reused buffer, as a request body
 * arrives; `note`: whether it tells chunk_gc about them.
 */
async function peakExternal(note: boolean): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "chunk-gc-" });
  const module = JSON.stringify(new URL("./chunk_gc.ts", import.meta.url).href);
  try {
    const script = `${dir}/receive.ts`;
    await Deno.writeTextFile(
      script,
      `import { noteReceived } from ${module};
const buffer = new Uint8Array(${MiB});
let peak = 0;
for (let i = 0; i < 2048; i++) {
  const chunk = new Uint8Array(65536);
  chunk[0] = i;
  buffer.set(chunk, (i % 16) * chunk.length);
  if (${note}) noteReceived(chunk.length);
  await new Promise((resolve) => setTimeout(resolve, 0));
  peak = Math.max(peak, Deno.memoryUsage().external);
}
console.log(peak);`,
    );
    const v8 = SERVER_TASK_FLAGS.filter((flag) => flag.startsWith("--v8-flags="));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", ...v8, "--allow-read", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return Number(new TextDecoder().decode(out.stdout).trim());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("received chunks are freed within a few MiB, not left to pile up until V8 collects", async () => {
  const [noted, unnoted] = await Promise.all([peakExternal(true), peakExternal(false)]);
  assert.ok(noted < 12 * MiB, `${(noted / MiB).toFixed(1)} MiB of chunks alive at once`);
  // The control shows what is at stake: without the collections, dead chunks pile up.
  assert.ok(unnoted > 2 * noted, `${(unnoted / MiB).toFixed(1)} MiB without, vs ${noted}`);
});
