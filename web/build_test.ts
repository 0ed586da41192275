import assert from "node:assert/strict";
import { buildUiModule, OUTPUT } from "./build.ts";

Deno.test("the committed server/http/ui_bundle.ts is what `deno task build:web` builds from web/", async () => {
  const built = await buildUiModule();
  const committed = await Deno.readTextFile(OUTPUT);
  assert.ok(
    built === committed,
    "server/http/ui_bundle.ts is stale: run `deno task build:web` and commit the result",
  );
  assert.doesNotMatch(
    built,
    /\.cache\/deno|node_modules|file:\/\//,
    "no machine paths in the bundle",
  );
  // Browser code only: nothing from Deno or node crept in through the client core's imports.
  assert.doesNotMatch(built, /["'`]node:[a-z_/]+["'`]|\bDeno\./, "no node: imports, no Deno.*");
});
