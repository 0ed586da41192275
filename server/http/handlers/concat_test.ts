import assert from "node:assert/strict";
import {
  bytes,
  createUpload,
  harness,
  idOf,
  patchRequest,
  request,
  stored,
  TUS,
} from "./test_harness.ts";
import { DigestState, formatReprDigest } from "../../../lib/deno/digest.ts";

async function partial(h: ReturnType<typeof harness>, length: number): Promise<string> {
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": String(length), "Upload-Concat": "partial" },
  }));
  assert.equal(res.status, 201, res.text);
  return idOf(res.headers.get("location"));
}

async function final(h: ReturnType<typeof harness>, parts: string[], absolute = false) {
  const urls = parts.map((id) => absolute ? `http://up.test/files/${id}` : `/files/${id}`);
  return await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;${urls.join(" ")}` },
  }));
}

Deno.test("a final upload concatenates complete partial uploads at once", async () => {
  const h = harness();
  const a = await partial(h, 30);
  const b = await partial(h, 20);
  assert.equal((await h.send(patchRequest(a, 0, bytes(30, 0)))).status, 204);
  assert.equal((await h.send(patchRequest(b, 0, bytes(20, 30)))).status, 204);
  const head = await h.send(request("HEAD", `/files/${a}`, { headers: { ...TUS } }));
  assert.equal(head.headers.get("upload-concat"), "partial");

  const res = await final(h, [a, b], true);
  assert.equal(res.status, 201, res.text);
  const id = idOf(res.headers.get("location"));
  assert.deepEqual((await stored(h.store, id))?.data, bytes(50, 0));
  const expected = new DigestState();
  expected.update(bytes(50, 0));
  const info = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(info.headers.get("upload-offset"), "50");
  assert.equal(info.headers.get("upload-length"), "50");
  assert.equal(info.headers.get("repr-digest"), formatReprDigest(expected.digest()));
  assert.equal(
    info.headers.get("upload-concat"),
    `final;http://up.test/files/${a} http://up.test/files/${b}`,
  );
});

Deno.test("concatenation-unfinished: the final waits for its parts and reports what is missing", async () => {
  const h = harness();
  const a = await partial(h, 10);
  const b = await partial(h, 10);
  const c = await partial(h, 10);
  assert.equal((await h.send(patchRequest(b, 0, bytes(4, 10)))).status, 204);
  const res = await final(h, [a, b, c]);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("upload-offset"), null);
  const id = idOf(res.headers.get("location"));

  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("upload-offset"), null, "no offset until the final is done");
  assert.equal(head.headers.get("upload-length"), "30");

  const status = await h.send(request("GET", `/files/${id}/status`));
  assert.equal(status.status, 200);
  const body = JSON.parse(status.text);
  assert.equal(body.complete, false);
  assert.equal(body.received, 4);
  assert.deepEqual(body.parts.map((p: { complete: boolean }) => p.complete), [false, false, false]);
  assert.deepEqual(body.missing, [[0, 10], [14, 30]]);

  assert.equal((await h.send(patchRequest(id, 0, bytes(5)))).status, 403, "PATCH to a final");
  for (const [part, from, n] of [[a, 0, 10], [b, 4, 6], [c, 0, 10]] as const) {
    const base = part === a ? 0 : part === b ? 10 : 20;
    assert.equal((await h.send(patchRequest(part, from, bytes(n, base + from)))).status, 204);
  }
  const done = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(done.headers.get("upload-offset"), "30");
  assert.deepEqual((await stored(h.store, id))?.data, bytes(30, 0));
  const after = JSON.parse((await h.send(request("GET", `/files/${id}/status`))).text);
  assert.equal(after.complete, true);
  assert.deepEqual(after.missing, []);
  assert.ok(after.digests.sha256);
});

Deno.test("a part of an unfinished final upload can't be deleted; after completion it can", async () => {
  const h = harness();
  const a = await partial(h, 5);
  const b = await partial(h, 5);
  const id = idOf((await final(h, [a, b])).headers.get("location"));
  const refused = await h.send(request("DELETE", `/files/${a}`, { headers: { ...TUS } }));
  assert.equal(refused.status, 409);
  assert.match(refused.text, new RegExp(id));
  await h.send(patchRequest(a, 0, bytes(5)));
  await h.send(patchRequest(b, 0, bytes(5, 5)));
  const get = await h.send(request("GET", `/files/${id}`));
  assert.equal(get.status, 200, "GET assembles a final whose parts completed");
  assert.deepEqual(get.bytes, bytes(10));
  assert.equal(
    (await h.send(request("DELETE", `/files/${a}`, { headers: { ...TUS } }))).status,
    204,
  );
});

Deno.test("a final upload is refused for bad parts, a length or a body", async () => {
  const h = harness();
  const a = await partial(h, 5);
  const plain = await createUpload(h, { length: 5 });
  const deferred = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Defer-Length": "1", "Upload-Concat": "partial" },
  }));
  const d = idOf(deferred.headers.get("location"));
  for (
    const value of [
      `final;/files/${"9".repeat(32)}`,
      `final;/files/${plain}`,
      `final;/files/${d}`,
      "final;",
      `final;/elsewhere/${a}`,
      "final;http://[bad",
      "something",
    ]
  ) {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Concat": value },
    }));
    assert.equal(res.status, 400, `${value}: ${res.text}`);
  }
  const withLength = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;/files/${a}`, "Upload-Length": "5" },
  }));
  assert.equal(withLength.status, 400);
  const tooBig = harness({ config: { maxSize: 8 } });
  const p = await partial(tooBig, 5);
  const q = await partial(tooBig, 5);
  assert.equal((await final(tooBig, [p, q])).status, 413);
});
