/**
 * `deno task docs`: writes the flags table of docs/server.md from the flag definitions
 * (flags.ts); `usage_test.ts` fails while the committed file differs from what this writes.
 */
import { withFlagsTable } from "./config/usage.ts";

/** The server's reference page, which holds the generated flags table. */
export const SERVER_DOC = new URL("../docs/server.md", import.meta.url);

if (import.meta.main) {
  const text = await Deno.readTextFile(SERVER_DOC);
  const next = withFlagsTable(text);
  if (next === text) {
    console.log("docs/server.md: the flags table is up to date");
  } else {
    await Deno.writeTextFile(SERVER_DOC, next);
    console.log("docs/server.md: the flags table is rewritten");
  }
}
