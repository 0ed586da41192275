import assert from "node:assert/strict";
import { defined, present } from "./defined.ts";

Deno.test("defined drops undefined properties and keeps every other value, falsy ones too", () => {
  const url: string | undefined = undefined;
  const result = defined({ url, zero: 0, empty: "", no: false, none: null, id: "a" });
  assert.deepEqual(result, { zero: 0, empty: "", no: false, none: null, id: "a" });
  assert.equal("url" in result, false);
});

Deno.test("defined fits optional properties under exactOptionalPropertyTypes", () => {
  const owner = ["x", undefined][1];
  const record: { id: string; owner?: string } = { id: "a", ...defined({ owner }) };
  assert.deepEqual(record, { id: "a" });
});

Deno.test("present converts a value and passes null and undefined on as undefined", () => {
  assert.equal(present("7", Number), 7);
  assert.equal(present("", (v) => v.length), 0);
  assert.equal(present(null, Number), undefined);
  assert.equal(present(undefined, Number), undefined);
});
