import assert from "node:assert/strict";
import {
  completenessField,
  DRAFT_RULES,
  draftRules,
  INTEROP_VERSIONS,
  LATEST_INTEROP_VERSION,
} from "./ietf_versions.ts";

Deno.test("the versions spoken are 3 to 8, the newest 8; a header value names one or none", () => {
  assert.deepEqual(INTEROP_VERSIONS, [3, 4, 5, 6, 7, 8]);
  assert.equal(LATEST_INTEROP_VERSION, 8);
  assert.equal(draftRules("6")?.version, 6);
  assert.equal(draftRules(" 3 ")?.version, 3);
  for (const other of [null, undefined, "", "2", "9", "06x", "6.0", "-6"]) {
    assert.equal(draftRules(other), undefined, String(other));
  }
});

Deno.test("completeness: Upload-Incomplete (inverted) at version 3, Upload-Complete after", () => {
  assert.deepEqual(completenessField(DRAFT_RULES[3], true), ["Upload-Incomplete", "?0"]);
  assert.deepEqual(completenessField(DRAFT_RULES[3], false), ["Upload-Incomplete", "?1"]);
  for (const v of [4, 5, 6, 7, 8] as const) {
    assert.deepEqual(completenessField(DRAFT_RULES[v], true), ["Upload-Complete", "?1"]);
    assert.deepEqual(completenessField(DRAFT_RULES[v], false), ["Upload-Complete", "?0"]);
  }
});
