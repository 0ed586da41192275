/**
 * Handler-level tests for what is common to every route: routing, the tus version handshake, CORS,
 * and error bodies per dialect. Hostile ids and the seeded fuzz run are in `handler_input_test.ts`;
 * per-method behaviour is tested in `handlers/<method>_test.ts`.
 */
import assert from "node:assert/strict";
import {
  assertPlainError,
  assertTusError,
  bytes,
  createUpload,
  harness,
  ids,
  patchRequest,
  request,
  tokens,
  TUS,
} from "./handlers/test_harness.ts";

// ---------------------------------------------------------------------------------------------
// The tus version handshake

Deno.test("every response carries Tus-Resumable: 1.0.0, in both dialects and on errors", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 3 });
  const requests = [
    request("OPTIONS", "/files"),
    request("POST", "/files", { headers: { "Upload-Length": "1" } }),
    request("POST", "/files", { headers: { ...TUS } }),
    request("HEAD", `/files/${id}`),
    request("HEAD", `/files/${"0".repeat(32)}`, { headers: { ...TUS } }),
    patchRequest(id, 9, bytes(1)),
    request("GET", `/files/${id}`),
    request("GET", "/nowhere"),
    request("PUT", `/files/${id}`),
    request("DELETE", `/files/${id}`, { headers: { "Tus-Resumable": "0.2.2" } }),
  ];
  for (const req of requests) {
    const res = await h.send(req);
    assert.equal(res.headers.get("tus-resumable"), "1.0.0", `${req.method} ${req.url}`);
  }
});

Deno.test("a tus request with another Tus-Resumable answers 412 with Tus-Version and is not processed", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  const old = { "Tus-Resumable": "0.2.2" };

  const post = await h.send(
    request("POST", "/files", { headers: { ...old, "Upload-Length": "5" } }),
  );
  assertTusError(post, 412, "POST");
  assert.equal(post.headers.get("tus-version"), "1.0.0");
  assert.deepEqual(await ids(h.store), [id], "POST created nothing");

  const patch = await h.send(patchRequest(id, 0, bytes(3), old));
  assertTusError(patch, 412, "PATCH");
  assert.equal(patch.headers.get("tus-version"), "1.0.0");
  assert.equal((await h.store.get(id))?.offset, 0, "PATCH wrote nothing");

  const head = await h.send(request("HEAD", `/files/${id}`, { headers: old }));
  assert.equal(head.status, 412);
  assert.equal(head.headers.get("tus-version"), "1.0.0");
  assert.equal(head.headers.get("upload-offset"), null);

  const get = await h.send(request("GET", `/files/${id}`, { headers: old }));
  assertTusError(get, 412, "GET");

  const del = await h.send(request("DELETE", `/files/${id}`, { headers: old }));
  assertTusError(del, 412, "DELETE");
  assert.ok(await h.store.get(id), "DELETE removed nothing");

  for (const version of ["1.0", "1.0.0, 0.2.2", "2.0.0", "x"]) {
    const res = await h.send(
      request("POST", "/files", { headers: { "Tus-Resumable": version, "Upload-Length": "1" } }),
    );
    assertTusError(res, 412, version);
    assert.equal(res.headers.get("tus-version"), "1.0.0");
  }
  assert.deepEqual(await ids(h.store), [id]);
});

// ---------------------------------------------------------------------------------------------
// CORS

Deno.test("a CORS preflight answers 204 with Allow-Methods and Allow-Headers for the tus headers", async () => {
  const h = harness();
  const res = await h.send(request("OPTIONS", `/files/${"0".repeat(32)}`, {
    headers: {
      Origin: "https://app.example",
      "Access-Control-Request-Method": "PATCH",
      "Access-Control-Request-Headers": "tus-resumable, upload-offset, content-type",
    },
  }));
  assert.equal(res.status, 204);
  assert.ok(res.noBody);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const methods = tokens(res.headers.get("access-control-allow-methods"));
  for (const m of ["POST", "HEAD", "PATCH", "DELETE", "GET", "OPTIONS"]) {
    assert.ok(methods.includes(m), `Allow-Methods lacks ${m}`);
  }
  const allowed = tokens(res.headers.get("access-control-allow-headers")).map((h) =>
    h.toLowerCase()
  );
  for (
    const name of [
      "tus-resumable",
      "upload-offset",
      "upload-length",
      "upload-defer-length",
      "upload-metadata",
      "content-type",
      "x-http-method-override",
    ]
  ) {
    assert.ok(allowed.includes(name), `Allow-Headers lacks ${name}`);
  }
});

Deno.test("a CORS preflight from an allowed origin names that origin", async () => {
  const h = harness({ config: { corsOrigins: ["https://a.example"] } });
  const res = await h.send(request("OPTIONS", "/files", {
    headers: { Origin: "https://a.example", "Access-Control-Request-Method": "POST" },
  }));
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://a.example");
  assert.ok(tokens(res.headers.get("access-control-allow-methods")).includes("POST"));
  assert.ok(tokens(res.headers.get("vary")).map((v) => v.toLowerCase()).includes("origin"));
});

Deno.test("responses to an allowed Origin carry Allow-Origin and expose Upload-Offset and Location", async () => {
  const h = harness({ config: { corsOrigins: ["https://a.example"] } });
  const res = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "3", Origin: "https://a.example" },
  }));
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://a.example");
  const exposed = tokens(res.headers.get("access-control-expose-headers")).map((h) =>
    h.toLowerCase()
  );
  for (
    const name of [
      "upload-offset",
      "location",
      "tus-resumable",
      "upload-length",
      "upload-expires",
      "upload-metadata",
    ]
  ) {
    assert.ok(exposed.includes(name), `Expose-Headers lacks ${name}`);
  }
  // Error responses must be readable by the page too.
  const err = await h.send(request("HEAD", `/files/${"0".repeat(32)}`, {
    headers: { ...TUS, Origin: "https://a.example" },
  }));
  assert.equal(err.status, 404);
  assert.equal(err.headers.get("access-control-allow-origin"), "https://a.example");
});

Deno.test("responses to any Origin carry Allow-Origin: * by default", async () => {
  const h = harness();
  const res = await h.send(
    request("OPTIONS", "/files", { headers: { Origin: "https://anything.example" } }),
  );
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.ok(tokens(res.headers.get("access-control-expose-headers")).includes("Upload-Offset"));
});

Deno.test("a disallowed origin gets no CORS headers, on preflights or requests", async () => {
  const h = harness({ config: { corsOrigins: ["https://a.example"] } });
  const preflight = await h.send(request("OPTIONS", "/files", {
    headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
  }));
  const post = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "3", Origin: "https://evil.example" },
  }));
  assert.equal(post.status, 201);
  const none = harness({ config: { corsOrigins: [] } });
  const off = await none.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Length": "3", Origin: "https://a.example" },
  }));
  for (const res of [preflight, post, off]) {
    const cors = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
    assert.deepEqual(cors, []);
  }
});

Deno.test("a request without Origin gets no CORS headers", async () => {
  const h = harness();
  const res = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "3" } }),
  );
  assert.equal(res.headers.get("access-control-allow-origin"), null);
});

// ---------------------------------------------------------------------------------------------
// Routing

Deno.test("a path outside the upload collection answers 404", async () => {
  const h = harness({ config: { ui: false } }); // else GET / is the upload page (ui_test.ts)
  for (const path of ["/", "/nope", "/filesX", "/files.json", "/api/files"]) {
    assertTusError(
      await h.send(request("POST", path, { headers: { ...TUS, "Upload-Length": "1" } })),
      404,
      path,
    );
    assertPlainError(await h.send(request("GET", path)), 404, path);
  }
  assert.deepEqual(await ids(h.store), []);
});

Deno.test("the collection answers POST with or without a trailing slash", async () => {
  const h = harness();
  const res = await h.send(
    request("POST", "/files/", { headers: { ...TUS, "Upload-Length": "1" } }),
  );
  assert.equal(res.status, 201);
});

Deno.test("an unknown method answers 405 with Allow", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 3 });
  for (const method of ["PUT", "PROPFIND", "MKCOL"]) {
    const res = await h.send(request(method, `/files/${id}`, { headers: { ...TUS } }));
    assertTusError(res, 405, method);
    assert.deepEqual(tokens(res.headers.get("allow")).sort(), [
      "DELETE",
      "GET",
      "HEAD",
      "OPTIONS",
      "PATCH",
    ]);
  }
  for (const method of ["PATCH", "DELETE", "PUT"]) {
    const res = await h.send(request(method, "/files"));
    assertPlainError(res, 405, `${method} /files`);
    assert.deepEqual(tokens(res.headers.get("allow")).sort(), ["GET", "OPTIONS", "POST"]);
  }
  const head = await h.send(request("HEAD", "/files"));
  assert.equal(head.status, 405);
  assert.ok(tokens(head.headers.get("allow")).includes("POST"));
  const overridden = await h.send(request("POST", `/files/${id}`, {
    headers: { ...TUS, "X-HTTP-Method-Override": "PUT" },
  }));
  assertTusError(overridden, 405, "override PUT");
  assert.ok(overridden.headers.get("allow"));
  const post = await h.send(request("POST", `/files/${id}`, { headers: { ...TUS } }));
  assertTusError(post, 405, "POST to an upload");
});

Deno.test("errors are JSON in the plain dialect, text in the tus dialect, and bodiless for HEAD", async () => {
  const h = harness();
  const unknown = `/files/${"9".repeat(32)}`;
  assertPlainError(await h.send(request("GET", unknown)), 404);
  assertTusError(await h.send(request("GET", unknown, { headers: { ...TUS } })), 404);
  for (const headers of [{}, { ...TUS }]) {
    const head = await h.send(request("HEAD", unknown, { headers }));
    assert.equal(head.status, 404);
    assert.ok(head.noBody);
  }
  const overriddenHead = await h.send(request("POST", unknown, {
    headers: { "X-HTTP-Method-Override": "HEAD" },
  }));
  assert.equal(overriddenHead.status, 404);
  assert.equal(overriddenHead.bytes.length, 0, "a HEAD by override has no body either");
});
