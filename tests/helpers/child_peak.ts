/**
 * Runs a short script in a child Deno with given V8 options and reads back the number it prints:
 * for tests of what the tasks' V8 options and the garbage-collection hints do to memory, which a
 * test process of its own (without those options) can't show.
 */
import assert from "node:assert/strict";

/**
 * Runs `prelude` then `loop` (which sets `peak`) in a child Deno with `v8` (`--v8-flags=…`
 * arguments, as a task gives them) and read access to everything; returns `peak` as printed.
 * `majors` counts the full collections asked of `gc` (wrapped before the prelude runs).
 */
export async function childPeak(v8: string[], prelude: string, loop: string): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "child-peak-" });
  try {
    const script = `${dir}/peak.ts`;
    await Deno.writeTextFile(
      script,
      `let majors = 0;
const real = globalThis.gc;
if (real) globalThis.gc = (o) => { if (o?.type === "major") majors++; real(o); };
${prelude}
let peak = 0;
${loop}
console.log(peak);`,
    );
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

/** The `--v8-flags=…` arguments of a task's argv. */
export function v8Flags(argv: string[]): string[] {
  return argv.filter((flag) => flag.startsWith("--v8-flags="));
}
