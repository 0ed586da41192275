import assert from "node:assert/strict";
import { harness, request, tokens, TUS } from "./test_harness.ts";

Deno.test("OPTIONS answers 204 with Tus-Version and every extension, expiration included when uploads expire", async () => {
  const h = harness({ config: { expireMs: 3_600_000 } });
  const res = await h.send(request("OPTIONS", "/files"));
  assert.equal(res.status, 204);
  assert.ok(res.noBody);
  assert.equal(res.headers.get("tus-version"), "1.0.0");
  assert.deepEqual(tokens(res.headers.get("tus-extension")).sort(), [
    "checksum",
    "concatenation",
    "concatenation-unfinished",
    "creation",
    "creation-defer-length",
    "creation-with-upload",
    "expiration",
    "termination",
  ]);
  assert.equal(res.headers.get("tus-checksum-algorithm"), "sha1,md5,sha256");
  assert.equal(res.headers.get("tus-max-size"), null);
});

Deno.test("OPTIONS leaves expiration out of Tus-Extension when uploads never expire", async () => {
  const h = harness({ config: { expireMs: 0 } });
  const res = await h.send(request("OPTIONS", "/files", { headers: { ...TUS } }));
  assert.equal(res.status, 204);
  const extensions = tokens(res.headers.get("tus-extension"));
  assert.ok(!extensions.includes("expiration"), extensions.join(","));
  assert.ok(extensions.includes("creation"));
  assert.ok(extensions.includes("termination"));
});

Deno.test("OPTIONS announces Tus-Max-Size only when a maximum size is configured", async () => {
  const limited = harness({ config: { maxSize: 1000 } });
  const res = await limited.send(request("OPTIONS", "/files"));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("tus-max-size"), "1000");

  const unlimited = harness();
  const res2 = await unlimited.send(request("OPTIONS", "/files"));
  assert.equal(res2.headers.get("tus-max-size"), null);
});

Deno.test("OPTIONS answers 204, not 412, whatever Tus-Resumable says", async () => {
  const h = harness();
  for (const version of ["0.2.2", "2.0.0", "garbage"]) {
    const res = await h.send(
      request("OPTIONS", "/files", { headers: { "Tus-Resumable": version } }),
    );
    assert.equal(res.status, 204, version);
    assert.equal(res.headers.get("tus-version"), "1.0.0");
  }
});

Deno.test("OPTIONS on an upload URL also answers tus discovery", async () => {
  const h = harness();
  const res = await h.send(request("OPTIONS", `/files/${"0".repeat(32)}`, { headers: { ...TUS } }));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("tus-version"), "1.0.0");
  assert.ok(tokens(res.headers.get("tus-extension")).includes("creation"));
});
