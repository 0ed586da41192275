import assert from "node:assert/strict";
import { wrap } from "./terminal.ts";

Deno.test("wrap keeps every line within the width, at spaces, indenting continuations", () => {
  const text = "retry 3 in 2.5 s: the server is busy right now; it asked to wait before " +
    "the next attempt, which this client does with a backoff that grows each time";
  const wrapped = wrap(text, 40);
  for (const line of wrapped.split("\n")) assert.ok(line.length <= 40, JSON.stringify(line));
  assert.equal(wrapped.replace(/\n +/g, " "), text);
  assert.match(wrapped.split("\n")[1]!, /^ {2}\S/);
});

Deno.test("wrap leaves short lines alone and keeps a long word (a URL) whole", () => {
  assert.equal(wrap("short", 80), "short");
  const url = `http://127.0.0.1:1080/files/${"a".repeat(90)}`;
  const wrapped = wrap(`uploaded to ${url} just now`, 80).split("\n");
  assert.deepEqual(wrapped, ["uploaded to", `  ${url}`, "  just now"]);
});

Deno.test("wrap keeps the indentation of an indented line", () => {
  const wrapped = wrap(`    ${"word ".repeat(30).trim()}`, 40).split("\n");
  assert.ok(wrapped.every((line) => line.startsWith("    ") && line.length <= 40), String(wrapped));
});
