import assert from "node:assert/strict";
import { parseSfBoolean, parseSfInteger } from "./structured_field.ts";

Deno.test("sf-integer: digits, a sign, parameters and surrounding spaces; nothing else", () => {
  assert.equal(parseSfInteger("42"), 42);
  assert.equal(parseSfInteger(" 42 "), 42);
  assert.equal(parseSfInteger("-3"), -3);
  assert.equal(parseSfInteger("10;unit=bytes"), 10);
  assert.equal(parseSfInteger('10;a;b="x y";c=?1'), 10);
  assert.equal(parseSfInteger("999999999999999"), 999999999999999);
  for (const bad of ["", "1.5", "+1", "0x10", "1e3", "1 2", "1,2", "1000000000000000", "10;"]) {
    assert.equal(parseSfInteger(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("sf-boolean: ?0 and ?1, with parameters; nothing else", () => {
  assert.equal(parseSfBoolean("?1"), true);
  assert.equal(parseSfBoolean("?0"), false);
  assert.equal(parseSfBoolean(" ?1;x=1 "), true);
  for (const bad of ["", "1", "true", "?2", "? 1", "?1,?0"]) {
    assert.equal(parseSfBoolean(bad), undefined, JSON.stringify(bad));
  }
});
