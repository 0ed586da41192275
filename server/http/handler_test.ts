/**
 * Handler-level tests for what is common to every route: routing and ids, the tus version
 * handshake, CORS, error bodies per dialect, and a seeded fuzz run that no input turns into a 500.
 * Per-method behaviour is tested in `handlers/<method>_test.ts`.
 */
import assert from "node:assert/strict";
import { prng } from "../../tests/helpers/safety.ts";
import { FileStore } from "../store/file/file_store.ts";
import {
  assertPlainError,
  assertTusError,
  b64,
  bytes,
  Clock,
  createUpload,
  harness,
  ids,
  OCTET,
  patchRequest,
  request,
  stored,
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

const BAD_IDS = [
  "..",
  "%2e%2e",
  "%2E%2E/%2E%2E/etc",
  "..%2F..%2Fescape",
  "%2F",
  "a%2Fb",
  "%2Ftmp%2Fx",
  "%00",
  "00000000000000000000000000000000%00",
  "0".repeat(33),
  "0".repeat(31),
  "A".repeat(32),
  "0123456789ABCDEF0123456789abcdef",
  `${"0".repeat(32)}/extra`,
  `${"0".repeat(32)}.info`,
  "0000000000000000000000000000000g",
  "%30".repeat(32),
];

Deno.test("bad upload ids answer 404 and touch nothing outside (or inside) a file store", async () => {
  const root = await Deno.makeTempDir({ prefix: "resumable-ids-" });
  try {
    const dir = `${root}/store`;
    const store = await FileStore.open(dir);
    // No upload page: `/files/..` is `/` once the URL is parsed, and that would be the page.
    const h = harness({ store, clock: new Clock(Date.now()), config: { ui: false } });
    const unknownValid = "ab".repeat(16);
    for (const id of [...BAD_IDS, unknownValid]) {
      const path = `/files/${id}`;
      const responses = [
        await h.send(request("HEAD", path, { headers: { ...TUS } })),
        await h.send(request("GET", path)),
        await h.send(request("DELETE", path, { headers: { ...TUS } })),
        await h.send(patchRequest(id, 0, bytes(3))),
        await h.send(request("PATCH", path, { headers: { "Upload-Offset": "0" }, body: bytes(3) })),
        await h.send(request("POST", path, {
          headers: {
            ...TUS,
            "X-HTTP-Method-Override": "PATCH",
            "Content-Type": OCTET,
            "Upload-Offset": "0",
          },
          body: bytes(3),
        })),
      ];
      for (const res of responses) assert.equal(res.status, 404, `${path}: ${res.text}`);
    }
    const rootEntries = [];
    for await (const e of Deno.readDir(root)) rootEntries.push(e.name);
    assert.deepEqual(rootEntries, ["store"], "nothing was created beside the store");
    const storeEntries = [];
    for await (const e of Deno.readDir(dir)) storeEntries.push(e.name);
    assert.deepEqual(storeEntries, [], "nothing was created in the store");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a file store serves a whole upload through the handler", async () => {
  const root = await Deno.makeTempDir({ prefix: "resumable-fs-" });
  try {
    const h = harness({ store: await FileStore.open(root), clock: new Clock(Date.now()) });
    const id = await createUpload(h, { length: 6, metadata: `filename ${b64("a.txt")}` });
    assert.equal((await h.send(patchRequest(id, 0, bytes(4)))).status, 204);
    const conflict = await h.send(patchRequest(id, 1, bytes(2)));
    assert.equal(conflict.status, 409);
    assert.equal(conflict.headers.get("upload-offset"), "4");
    assert.equal((await h.send(patchRequest(id, 4, bytes(2, 4)))).status, 204);
    const get = await h.send(request("GET", `/files/${id}`, { headers: { Range: "bytes=1-2" } }));
    assert.equal(get.status, 206);
    assert.deepEqual(get.bytes, bytes(6).subarray(1, 3));
    assert.deepEqual(await stored(h.store, id), { offset: 6, length: 6, data: bytes(6) });
    assert.equal((await h.send(request("DELETE", `/files/${id}`))).status, 204);
    assert.equal((await h.send(request("HEAD", `/files/${id}`))).status, 410);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzz: no input may yield a 500

const INTERESTING: Record<string, string[]> = {
  "Upload-Offset": ["0", "1", "3", "10", "-1", "+0", "1e3", "9007199254740993", "0, 0", "", "00"],
  "Upload-Length": ["0", "3", "10", "11", "-1", "+5", "1e3", "9007199254740993", "5, 5", "", "99"],
  "Upload-Defer-Length": ["1", "0", "2", "", "1, 1"],
  "Upload-Metadata": [
    "",
    `filename ${b64("a.txt")}`,
    `filename ${b64("../../x\r\n.html")},filetype ${b64("text/html")}`,
    "a YQ==,a YQ==",
    "a b c",
    "k !!!",
    ",,,",
    "k",
    `filename ${b64("😀".repeat(120))}`,
  ],
  "Tus-Resumable": ["1.0.0", "0.2.2", "", "1.0.0, 1.0.0", "1.0"],
  "Content-Type": [OCTET, "text/plain", "", "application/offset+octet-stream; x=y", "*/*"],
  "X-HTTP-Method-Override": [
    "PATCH",
    "HEAD",
    "GET",
    "DELETE",
    "POST",
    "OPTIONS",
    "PUT",
    "PROPFIND",
    "",
    "patch",
  ],
  Range: ["bytes=0-0", "bytes=-1", "bytes=5-", "bytes=100-", "bytes=-0", "bytes=3-1", "bytes="],
  "Content-Length": ["0", "1", "3", "-1", "abc", "99999999999999999"],
  "If-None-Match": ["*", '"x"', "W/*", ""],
  Origin: ["https://a.example", "null", ""],
  "Access-Control-Request-Method": ["PATCH", ""],
  Forwarded: ["proto=https;host=x.example", "host=", ";;;", 'host="a b"'],
};

function randomString(rand: () => number): string {
  const length = Math.floor(rand() * 24);
  let s = "";
  for (let i = 0; i < length; i++) {
    const r = rand();
    // Mostly printable ASCII, sometimes a tab or a Latin-1 byte (header values are ByteStrings).
    const code = r < 0.9
      ? 0x20 + Math.floor(rand() * 95)
      : r < 0.95
      ? 0x09
      : 0x80 + Math.floor(rand() * 128);
    s += String.fromCharCode(code);
  }
  return s;
}

Deno.test("no malformed request yields a 500 (seeded fuzz)", async () => {
  // Fixed by default; FUZZ_SEED=<n> explores other inputs (failures print the seed and request).
  const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x7e57ab1e);
  const ROUNDS = 300; // per store
  const rand = prng(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const root = await Deno.makeTempDir({ prefix: "resumable-fuzz-" });
  try {
    for (const kind of ["memory", "file"] as const) {
      const h = kind === "memory"
        ? harness({ config: { maxSize: 50, behindProxy: true } })
        : harness({
          config: { maxSize: 50, behindProxy: true },
          store: await FileStore.open(`${root}/store`),
          clock: new Clock(Date.now()),
        });
      const seen = new Map<number, number>();
      let pool: string[] = [];
      const refill = async () => {
        pool = [
          await createUpload(h, { length: 10 }),
          await createUpload(h, { length: 3, data: bytes(3) }),
          await createUpload(h),
          await createUpload(h, {
            length: 4,
            data: bytes(4),
            metadata: `filename ${b64("x".repeat(199) + "é😀")},filetype ${b64("image/png")}`,
          }),
        ];
      };
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 20 === 0) await refill();
        const method = pick(["POST", "HEAD", "PATCH", "GET", "DELETE", "OPTIONS"] as const);
        // POST mostly goes to the collection, the others mostly to existing uploads.
        const target = method === "POST" ? rand() * 0.25 : 0.05 + rand() * 0.95;
        const path = target < 0.2
          ? "/files"
          : target < 0.85
          ? `/files/${pick(pool)}`
          : target < 0.95
          ? `/files/${"f".repeat(32)}`
          : `/files/${randomString(rand).replace(/[^A-Za-z0-9._~-]/g, "")}`;
        const headers: Record<string, string> = {};
        for (const [name, values] of Object.entries(INTERESTING)) {
          // Headers that end a request early (version, override) are sent less often, so most
          // requests get past validation and into the handlers.
          const rare = name === "Tus-Resumable" || name === "X-HTTP-Method-Override";
          const r = rand();
          if (r < (rare ? 0.12 : 0.35)) headers[name] = pick(values);
          else if (r < (rare ? 0.16 : 0.5)) headers[name] = randomString(rand);
        }
        if (headers["Access-Control-Request-Method"] !== undefined && rand() < 0.7) {
          delete headers["Access-Control-Request-Method"];
        }
        let body: Uint8Array<ArrayBuffer> | undefined;
        if ((method === "POST" || method === "PATCH") && rand() < 0.7) {
          body = bytes(Math.floor(rand() * 16));
        }
        const label = `${kind} round ${round} (seed ${SEED}): ${method} ${path} ${
          JSON.stringify(headers)
        } body=${body?.length ?? "none"}`;
        let req: Request;
        try {
          req = request(method, path, { headers, ...(body ? { body } : {}) });
        } catch (error) {
          // Only header values the Fetch API itself refuses may be skipped.
          assert.ok(error instanceof TypeError, `${label}: ${error}`);
          continue;
        }
        const res = await h.send(req).catch((e) => {
          throw new Error(`${label}: ${e.message}`);
        });
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        assert.ok(res.status >= 200 && res.status < 500, `${label} answered ${res.status}`);
        assert.equal(res.headers.get("tus-resumable"), "1.0.0", label);
        assert.deepEqual(h.logged, [], label);
      }
      // The run must reach the handlers, not just bounce off validation.
      const statuses = [...seen.keys()].sort();
      const ok = [...seen].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
      assert.ok(statuses.length >= 8, `${kind}: too few distinct statuses ${statuses}`);
      assert.ok(ok >= ROUNDS / 10, `${kind}: only ${ok} successes: ${JSON.stringify([...seen])}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
