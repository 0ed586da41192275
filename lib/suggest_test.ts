import assert from "node:assert/strict";
import { closest } from "./suggest.ts";

const FLAGS = ["port", "host", "dir", "max-size", "max-active", "print-config", "config", "db"];

Deno.test("closest suggests the flag a typo meant", () => {
  assert.equal(closest("prot", FLAGS), "port");
  assert.equal(closest("max_size", FLAGS), "max-size");
  assert.equal(closest("PORT", FLAGS), "port");
  assert.equal(closest("max-activ", FLAGS), "max-active");
  assert.equal(closest("print", FLAGS), "print-config");
});

Deno.test("closest suggests nothing for a word far from every flag", () => {
  assert.equal(closest("frobnicate", FLAGS), undefined);
  assert.equal(closest("x", FLAGS), undefined);
  assert.equal(closest("max", FLAGS), undefined, "ambiguous start");
});
