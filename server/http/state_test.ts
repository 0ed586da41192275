import assert from "node:assert/strict";
import { UPLOAD_STATES, type UploadState } from "../../lib/upload_status.ts";
import { stateOf, TRANSITIONS } from "./state.ts";
import type { UploadInfo } from "../store/types.ts";

const base: UploadInfo = {
  id: "x",
  length: 10,
  offset: 0,
  metadata: "",
  createdAt: 0,
  updatedAt: 0,
};

Deno.test("stateOf reads the state off the facts", () => {
  assert.equal(stateOf(base, 5, 100), "created");
  assert.equal(stateOf({ ...base, offset: 3 }, 5, 100), "uploading");
  assert.equal(stateOf({ ...base, offset: 10 }, 5, undefined), "complete");
  assert.equal(stateOf({ ...base, offset: 3 }, 100, 100), "expired");
  assert.equal(
    stateOf({ ...base, concat: { kind: "final", parts: [] } }, 5, undefined),
    "assembling",
  );
  assert.equal(stateOf({ ...base, ended: { state: "terminated", at: 1 } }, 5, 100), "terminated");
  assert.equal(stateOf({ ...base, ended: { state: "expired", at: 1 } }, 5, undefined), "expired");
  const deferred: UploadInfo = { id: "x", offset: 3, metadata: "", createdAt: 0, updatedAt: 0 };
  assert.equal(stateOf(deferred, 5, undefined), "uploading");
});

Deno.test("the end states are final and complete only ends by termination", () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...UPLOAD_STATES].sort());
  assert.deepEqual(TRANSITIONS.terminated, []);
  assert.deepEqual(TRANSITIONS.expired, []);
  assert.deepEqual(TRANSITIONS.complete, ["terminated"]);
  // Nothing leads back to created, and no state leads to itself.
  for (const [from, tos] of Object.entries(TRANSITIONS) as [UploadState, UploadState[]][]) {
    assert.ok(!tos.includes("created"));
    assert.ok(!tos.includes(from));
  }
  // A tombstone stays what it was whatever else is true of it.
  const tomb = { ...base, offset: 10, ended: { state: "terminated" as const, at: 1 } };
  assert.equal(stateOf(tomb, 0, undefined), "terminated");
});
