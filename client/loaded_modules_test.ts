/**
 * What a `client upload` evaluates: the static imports of main.ts, the client's dispatch and the
 * upload command (everything else is imported on demand). Every module costs resident memory
 * (the server's S3 and PostgreSQL clients, node:http and node:crypto add tens of MiB together), so
 * none of them may sneak back in.
 */
import assert from "node:assert/strict";

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface Info {
  modules: { specifier: string; dependencies?: Dependency[] }[];
}

const ROOT = new URL("../", import.meta.url);
const ENTRY_POINTS = ["main.ts", "client/cli.ts", "client/commands/upload.ts"];

Deno.test("an upload loads neither the server nor npm packages, nor node: modules but node:util", async () => {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success);
  const info: Info = JSON.parse(new TextDecoder().decode(stdout));
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const loaded = new Set<string>();
  const visit = (specifier: string) => {
    if (loaded.has(specifier)) return;
    loaded.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code && !dependency.isDynamic) visit(dependency.code.specifier);
    }
  };
  for (const entry of ENTRY_POINTS) visit(new URL(entry, ROOT).href);
  assert.ok(loaded.size > 20, "the graph was read");
  const server = new URL("server/cli.ts", ROOT).href; // (main.ts reads the server's flags only)
  const unwanted = [...loaded].filter((s) =>
    s === server || s.startsWith("npm:") || (s.startsWith("node:") && s !== "node:util")
  );
  assert.deepEqual(unwanted, []);
});
