import assert from "node:assert/strict";
import { defined } from "./defined.ts";

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
