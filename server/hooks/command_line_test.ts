import assert from "node:assert/strict";
import { splitCommand } from "./command_line.ts";

Deno.test("splitCommand splits on whitespace and keeps quoted text whole", () => {
  assert.deepEqual(splitCommand("notify  --to ops"), ["notify", "--to", "ops"]);
  assert.deepEqual(splitCommand(`sh -c 'cat > "/tmp/a b"'`), ["sh", "-c", 'cat > "/tmp/a b"']);
  assert.deepEqual(splitCommand(`say "he said \\"hi\\"" it\\'s`), ["say", 'he said "hi"', "it's"]);
  assert.deepEqual(splitCommand(`a"b c"d '' x`), ["ab cd", "", "x"]);
});

Deno.test("splitCommand expands nothing: $(…), $VAR, globs and pipes stay literal", () => {
  assert.deepEqual(splitCommand("echo $(touch /tmp/x) $HOME * | wc"), [
    "echo",
    "$(touch",
    "/tmp/x)",
    "$HOME",
    "*",
    "|",
    "wc",
  ]);
});

Deno.test("splitCommand refuses unbalanced quotes, a trailing backslash and no program", () => {
  assert.throws(() => splitCommand("run 'oops"), RangeError);
  assert.throws(() => splitCommand('run "oops'), RangeError);
  assert.throws(() => splitCommand("run \\"), RangeError);
  assert.throws(() => splitCommand("   "), /no program/);
  assert.throws(() => splitCommand("'' arg"), /no program/);
});
