/**
 * What a `client upload` evaluates: the static imports of main.ts, the client's dispatch and the
 * upload command (everything else is imported on demand). Every module costs resident memory
 * (the server's S3 and PostgreSQL clients, node:http and node:crypto add tens of MiB together), so
 * none of them may sneak back in.
 */
import assert from "node:assert/strict";
import { ROOT, staticModules } from "../tests/helpers/static_graph.ts";

Deno.test("an upload loads neither the server nor npm packages, nor node: modules but node:util", async () => {
  const loaded = await staticModules(["main.ts", "client/cli.ts", "client/commands/upload.ts"]);
  const server = new URL("server/cli.ts", ROOT).href; // (main.ts reads the server's flags only)
  const unwanted = [...loaded].filter((s) =>
    s === server || s.startsWith("npm:") || (s.startsWith("node:") && s !== "node:util")
  );
  assert.deepEqual(unwanted, []);
});
