/**
 * What a server evaluates before it knows its flags: the PostgreSQL client and the S3 code
 * (with the AWS SDK) load only for `--db` and `--store s3`; a server on its own disk is ~3 MiB
 * smaller without them.
 */
import assert from "node:assert/strict";
import { staticModules } from "../tests/helpers/static_graph.ts";

Deno.test("a server loads no npm package until its flags ask for the database or S3", async () => {
  const loaded = await staticModules(["main.ts", "server/cli.ts"]);
  const unwanted = [...loaded].filter((s) =>
    s.startsWith("npm:") || s.includes("/server/store/s3/") || s.endsWith("/pg_info.ts")
  );
  assert.deepEqual(unwanted, []);
});
