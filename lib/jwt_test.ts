import assert from "node:assert/strict";
import { signJwt, verifyJwt } from "./jwt.ts";
import { UploadError } from "./errors.ts";

const SECRET = "a-test-secret-of-some-length";

Deno.test("a signed token verifies and gives its claims", async () => {
  const token = await signJwt({ sub: "alice", exp: 2000, nbf: 1000 }, SECRET);
  assert.deepEqual(await verifyJwt(token, SECRET, 1500), { sub: "alice", exp: 2000, nbf: 1000 });
});

Deno.test("expiry and not-before are honoured with a clock-skew allowance", async () => {
  const token = await signJwt({ sub: "alice", exp: 2000, nbf: 1000 }, SECRET);
  assert.ok(await verifyJwt(token, SECRET, 2050), "within 60 s of skew");
  await assert.rejects(verifyJwt(token, SECRET, 2061), /expired/);
  assert.ok(await verifyJwt(token, SECRET, 950));
  await assert.rejects(verifyJwt(token, SECRET, 939), /not valid yet/);
});

Deno.test("tampered, unsigned, foreign-key and malformed tokens are refused", async () => {
  const token = await signJwt({ sub: "alice" }, SECRET);
  const [h, , s] = token.split(".");
  const forged = btoa(JSON.stringify({ sub: "mallory" })).replace(/=+$/, "");
  await assert.rejects(verifyJwt(`${h}.${forged}.${s}`, SECRET, 0), /signature/);
  await assert.rejects(verifyJwt(token, "another-secret-entirely", 0), /signature/);
  const none = btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "");
  await assert.rejects(verifyJwt(`${none}.${token.split(".")[1]}.`, SECRET, 0), /HS256/);
  for (const bad of ["", "a.b", "!!!.@@@.###", "a.b.c.d"]) {
    await assert.rejects(verifyJwt(bad, SECRET, 0), UploadError, bad);
  }
  await assert.rejects(verifyJwt(await signJwt({ sub: "" }, SECRET), SECRET, 0), /sub/);
  const stringExp = await signJwt({ sub: "alice", exp: "1" as unknown as number }, SECRET);
  await assert.rejects(verifyJwt(stringExp, SECRET, 0), /exp is not a number/);
});
