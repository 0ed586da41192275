import assert from "node:assert/strict";
import {
  assertPlainError,
  assertTusError,
  b64,
  bytes,
  ControlledBody,
  createUpload,
  harness,
  idOf,
  ids,
  OCTET,
  ORIGIN,
  request,
  stored,
  T0,
  TUS,
} from "./test_harness.ts";

Deno.test("POST answers 201 with an absolute Location, Upload-Offset 0 and Upload-Expires", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const res = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "10" } }),
  );
  assert.equal(res.status, 201);
  const location = res.headers.get("location");
  assert.match(location ?? "", /^http:\/\/up\.test\/files\/[0-9a-f]{32}$/);
  assert.equal(res.headers.get("upload-offset"), "0");
  assert.equal(res.headers.get("upload-expires"), new Date(T0 + 60_000).toUTCString());
  assert.equal(res.bytes.length, 0, "a tus 201 has no body");
  const info = await stored(h.store, idOf(location));
  assert.deepEqual(info, { offset: 0, length: 10, data: new Uint8Array() });
});

Deno.test("POST leaves Upload-Expires out when uploads never expire", async () => {
  const h = harness({ config: { expireMs: 0 } });
  const res = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "10" } }),
  );
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("upload-expires"), null);
});

Deno.test("POST in the plain dialect answers 201 with a JSON body naming the id and url", async () => {
  const h = harness();
  const res = await h.send(request("POST", "/files", { headers: { "Upload-Length": "5" } }));
  assert.equal(res.status, 201);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = JSON.parse(res.text);
  assert.match(body.id, /^[0-9a-f]{32}$/);
  assert.equal(body.url, `${ORIGIN}/files/${body.id}`);
  assert.equal(res.headers.get("location"), body.url);
  assert.equal(body.offset, 0);
  assert.equal(body.length, 5);
  assert.equal(res.headers.get("upload-offset"), "0");
});

Deno.test("POST in the plain dialect without Upload-Length creates a deferred-length upload", async () => {
  const h = harness();
  const res = await h.send(request("POST", "/files"));
  assert.equal(res.status, 201);
  const body = JSON.parse(res.text);
  assert.equal(body.length, undefined);
  const info = await h.store.get(body.id);
  assert.ok(info);
  assert.equal(info.length, undefined);
});

Deno.test("POST with Upload-Defer-Length: 1 creates a deferred-length upload", async () => {
  const h = harness();
  const res = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Defer-Length": "1" } }),
  );
  assert.equal(res.status, 201);
  const info = await stored(h.store, idOf(res.headers.get("location")));
  assert.deepEqual(info, { offset: 0, length: undefined, data: new Uint8Array() });
});

Deno.test("POST with Upload-Length: 0 creates an upload that is complete at once", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const res = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "0" } }),
  );
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("upload-offset"), "0");
  assert.equal(res.headers.get("upload-expires"), null, "a complete upload does not expire");
  const id = idOf(res.headers.get("location"));
  const head = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("upload-offset"), "0");
  assert.equal(head.headers.get("upload-length"), "0");
  const get = await h.send(request("GET", `/files/${id}`));
  assert.equal(get.status, 200);
  assert.equal(get.headers.get("content-length"), "0");
  assert.equal(get.bytes.length, 0);
});

Deno.test("POST with an application/offset+octet-stream body stores it and answers its size as Upload-Offset", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const data = bytes(7);
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "10",
      "Content-Type": OCTET,
      "Content-Length": "7",
    },
    body: data,
  }));
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("upload-offset"), "7");
  assert.equal(res.headers.get("upload-expires"), new Date(T0 + 60_000).toUTCString());
  assert.deepEqual(await stored(h.store, idOf(res.headers.get("location"))), {
    offset: 7,
    length: 10,
    data,
  });
});

Deno.test("POST with a whole upload as body answers 201 and the upload is complete", async () => {
  const h = harness();
  const data = bytes(4);
  const id = await createUpload(h, { length: 4, data });
  const get = await h.send(request("GET", `/files/${id}`));
  assert.equal(get.status, 200);
  assert.deepEqual(get.bytes, data);
});

Deno.test("POST with a chunked application/offset+octet-stream body (no Content-Length) stores it", async () => {
  const h = harness();
  const body = new ControlledBody();
  const pending = h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Defer-Length": "1",
      "Content-Type": OCTET,
      "Transfer-Encoding": "chunked",
    },
    body: body.stream,
  }));
  body.push(bytes(3));
  body.push(bytes(2, 3));
  body.close();
  const res = await pending;
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("upload-offset"), "5");
  const info = await stored(h.store, idOf(res.headers.get("location")));
  assert.deepEqual(info?.data, bytes(5));
});

Deno.test("POST answers 415 and creates nothing when its body is not application/offset+octet-stream", async () => {
  const h = harness();
  for (const type of ["text/plain", "application/json", "multipart/form-data; boundary=x", ""]) {
    const headers: Record<string, string> = {
      ...TUS,
      "Upload-Length": "10",
      "Content-Length": "3",
    };
    if (type) headers["Content-Type"] = type;
    const res = await h.send(request("POST", "/files", { headers, body: bytes(3) }));
    assertTusError(res, 415, `Content-Type ${JSON.stringify(type)}`);
  }
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 400 and creates nothing when a tus request has neither Upload-Length nor Upload-Defer-Length", async () => {
  const h = harness();
  const res = await h.send(request("POST", "/files", { headers: { ...TUS } }));
  assertTusError(res, 400);
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 400 for an Upload-Defer-Length other than 1", async () => {
  const h = harness();
  for (const value of ["0", "2", "true", "01", "1, 1"]) {
    const res = await h.send(
      request("POST", "/files", { headers: { ...TUS, "Upload-Defer-Length": value } }),
    );
    assertTusError(res, 400, `Upload-Defer-Length ${value}`);
  }
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 400 when both Upload-Length and Upload-Defer-Length are sent", async () => {
  const h = harness();
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "10", "Upload-Defer-Length": "1" },
  }));
  assertTusError(res, 400);
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 400 for malformed Upload-Metadata", async () => {
  const h = harness();
  const cases: Record<string, string> = {
    "bad base64": "filename !!!notbase64",
    "bad base64 padding": "filename YQ=",
    "duplicate key": `filename ${b64("a")},filename ${b64("b")}`,
    "key with space": `my key ${b64("a")}`,
    "empty key": `filename ${b64("a")},,x`,
    "non-ASCII key": `fïlename ${b64("a")}`,
  };
  for (const [why, header] of Object.entries(cases)) {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Length": "10", "Upload-Metadata": header },
    }));
    assertTusError(res, 400, why);
  }
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 400 for malformed integers in Upload-Length", async () => {
  const h = harness();
  for (const value of ["-1", "+5", "1e3", "9007199254740993", "5, 5", " ", "0x10", "1.0", "ten"]) {
    const res = await h.send(
      request("POST", "/files", { headers: { ...TUS, "Upload-Length": value } }),
    );
    assertTusError(res, 400, `Upload-Length ${JSON.stringify(value)}`);
  }
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 400 for an unknown X-HTTP-Method-Override", async () => {
  const h = harness();
  for (const value of ["PROPFIND", "FETCH", "PATCH PATCH", ""]) {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Length": "10", "X-HTTP-Method-Override": value },
    }));
    assertTusError(res, 400, `override ${JSON.stringify(value)}`);
  }
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 413 and creates nothing when Upload-Length exceeds the maximum size", async () => {
  const h = harness({ config: { maxSize: 100 } });
  const res = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "101" } }),
  );
  assertTusError(res, 413);
  const ok = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "100" } }),
  );
  assert.equal(ok.status, 201);
  assert.equal((await ids(h.store)).length, 1);
});

Deno.test("POST answers 413 and creates nothing when its body is longer than Upload-Length", async () => {
  const h = harness();
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "3", "Content-Type": OCTET, "Content-Length": "5" },
    body: bytes(5),
  }));
  assertTusError(res, 413);
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("POST answers 413 and leaves no unreachable upload when a chunked body runs past Upload-Length", async () => {
  // The 413 carries no Location, so an upload kept here could never be reached again; being
  // complete, it would never expire either.
  const h = harness();
  const body = new ControlledBody();
  const pending = h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "3",
      "Content-Type": OCTET,
      "Transfer-Encoding": "chunked",
    },
    body: body.stream,
  }));
  body.push(bytes(5));
  const res = await pending;
  body.close();
  assertTusError(res, 413);
  assert.deepEqual(await ids(h.store), [], "the failed creation left an upload behind");
});

Deno.test("POST errors in the plain dialect are JSON", async () => {
  const h = harness({ config: { maxSize: 10 } });
  assertPlainError(
    await h.send(request("POST", "/files", { headers: { "Upload-Length": "-1" } })),
    400,
  );
  assertPlainError(
    await h.send(request("POST", "/files", { headers: { "Upload-Length": "11" } })),
    413,
  );
  assertPlainError(
    await h.send(request("POST", "/files", {
      headers: { "Upload-Length": "3", "Content-Type": "text/plain", "Content-Length": "3" },
      body: bytes(3),
    })),
    415,
  );
  assertPlainError(
    await h.send(request("POST", "/files", { headers: { "Upload-Concat": "whole" } })),
    400,
  );
});

Deno.test("POST behind a proxy builds Location from Forwarded", async () => {
  const h = harness({ config: { behindProxy: true } });
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "1",
      Forwarded: 'for=192.0.2.60;proto=https;host="uploads.example.com:8443", for=10.0.0.1',
    },
  }));
  assert.equal(res.status, 201);
  assert.match(
    res.headers.get("location") ?? "",
    /^https:\/\/uploads\.example\.com:8443\/files\/[0-9a-f]{32}$/,
  );
});

Deno.test("POST behind a proxy builds Location from X-Forwarded-Proto and X-Forwarded-Host", async () => {
  const h = harness({ config: { behindProxy: true } });
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "1",
      "X-Forwarded-Proto": "https, http",
      "X-Forwarded-Host": "cdn.example.org, internal",
    },
  }));
  assert.equal(res.status, 201);
  assert.match(
    res.headers.get("location") ?? "",
    /^https:\/\/cdn\.example\.org\/files\/[0-9a-f]{32}$/,
  );
});

Deno.test("POST behind a proxy ignores a forwarded host that is not a host name", async () => {
  const h = harness({ config: { behindProxy: true } });
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "1",
      "X-Forwarded-Proto": "javascript",
      "X-Forwarded-Host": "evil.example/phish?",
    },
  }));
  assert.equal(res.status, 201);
  assert.match(res.headers.get("location") ?? "", /^http:\/\/up\.test\/files\/[0-9a-f]{32}$/);
});

Deno.test("POST not behind a proxy ignores Forwarded and X-Forwarded-* headers", async () => {
  const h = harness({ config: { behindProxy: false } });
  const res = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": "1",
      Forwarded: "proto=https;host=evil.example",
      "X-Forwarded-Proto": "https",
      "X-Forwarded-Host": "evil.example",
    },
  }));
  assert.equal(res.status, 201);
  assert.match(res.headers.get("location") ?? "", /^http:\/\/up\.test\/files\/[0-9a-f]{32}$/);
});
