import assert from "node:assert/strict";
import {
  assertPlainError,
  assertTusError,
  b64,
  bytes,
  createUpload,
  harness,
  patchRequest,
  request,
  TUS,
} from "./test_harness.ts";

const DATA = bytes(10); // "abcdefghij"

/** Parses `attachment; filename="ascii"; filename*=UTF-8''pct` and checks both names are safe. */
function dispositionNames(header: string | null): { ascii: string; utf8: string } {
  assert.ok(header, "Content-Disposition is missing");
  const m = /^attachment; filename="([^"\\]*)"; filename\*=UTF-8''([!#$&+\-.^_`|~0-9A-Za-z%]+)$/
    .exec(header);
  assert.ok(m, `unsafe or unexpected Content-Disposition ${JSON.stringify(header)}`);
  const ascii = m[1]!;
  const utf8 = decodeURIComponent(m[2]!);
  assert.match(ascii, /^[\x20-\x7e]*$/, "the fallback filename is printable ASCII");
  for (const name of [ascii, utf8]) {
    assert.ok(!/[\/\\]/.test(name), `path separators in ${name}`);
    assert.ok(
      [...name].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f),
      `control characters in ${JSON.stringify(name)}`,
    );
    assert.ok(name !== "" && name !== "." && name !== "..", `bad name ${name}`);
    assert.ok(utf8.isWellFormed(), "the UTF-8 name is well-formed Unicode");
  }
  return { ascii, utf8 };
}

async function completeUpload(
  h: ReturnType<typeof harness>,
  metadata?: string,
): Promise<string> {
  return await createUpload(h, {
    length: DATA.length,
    data: DATA,
    ...(metadata === undefined ? {} : { metadata }),
  });
}

Deno.test("GET answers 200 with the bytes, Content-Length, ETag, an attachment and nosniff", async () => {
  const h = harness();
  const id = await completeUpload(
    h,
    `filename ${b64("report.pdf")},filetype ${b64("application/pdf")}`,
  );
  const res = await h.send(request("GET", `/files/${id}`));
  assert.equal(res.status, 200);
  assert.deepEqual(res.bytes, DATA);
  assert.equal(res.headers.get("content-length"), "10");
  assert.match(res.headers.get("etag") ?? "", /^"[^"]+"$/);
  assert.equal(res.headers.get("content-type"), "application/pdf");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  const names = dispositionNames(res.headers.get("content-disposition"));
  assert.deepEqual(names, { ascii: "report.pdf", utf8: "report.pdf" });
});

Deno.test("GET without a filename still serves an attachment", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(request("GET", `/files/${id}`, { headers: { ...TUS } }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  dispositionNames(res.headers.get("content-disposition"));
});

Deno.test("GET strips paths, quotes and line breaks from the filename", async () => {
  const h = harness();
  const id = await completeUpload(h, `filename ${b64('../../evil"name\r\n.html')}`);
  const res = await h.send(request("GET", `/files/${id}`));
  assert.equal(res.status, 200);
  const { ascii, utf8 } = dispositionNames(res.headers.get("content-disposition"));
  assert.ok(!ascii.includes('"') && !ascii.includes(".."), ascii);
  assert.ok(!utf8.includes(".."), utf8);
  assert.ok(utf8.endsWith(".html") && utf8.includes("evil"), utf8);
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
});

Deno.test("GET keeps a Unicode filename in filename* and an ASCII fallback", async () => {
  const h = harness();
  const id = await completeUpload(h, `filename ${b64("résumé ✓ 日本.pdf")}`);
  const res = await h.send(request("GET", `/files/${id}`));
  assert.equal(res.status, 200);
  const { ascii, utf8 } = dispositionNames(res.headers.get("content-disposition"));
  assert.equal(utf8, "résumé ✓ 日本.pdf");
  assert.ok(ascii.endsWith(".pdf"), ascii);
});

Deno.test("GET answers 200 for a long filename whose cut falls inside an emoji", async () => {
  const h = harness();
  const name = "a".repeat(199) + "😀.txt";
  const id = await completeUpload(h, `filename ${b64(name)}`);
  const res = await h.send(request("GET", `/files/${id}`));
  assert.equal(res.status, 200);
  assert.deepEqual(res.bytes, DATA);
  const { utf8 } = dispositionNames(res.headers.get("content-disposition"));
  assert.ok(utf8.startsWith("a".repeat(199)), utf8);
});

Deno.test("GET never serves an active declared filetype as itself", async () => {
  const h = harness();
  for (
    const type of [
      "text/html",
      "TEXT/HTML",
      "application/xhtml+xml",
      "image/svg+xml",
      "text/javascript",
      "application/xml",
      "text/html; charset=utf-8",
      "multipart/x-mixed-replace",
    ]
  ) {
    const id = await completeUpload(h, `filetype ${b64(type)},filename ${b64("x.html")}`);
    const res = await h.send(request("GET", `/files/${id}`));
    assert.equal(res.status, 200, type);
    const served = (res.headers.get("content-type") ?? "").toLowerCase();
    assert.ok(!/html|xml|javascript|svg|multipart/.test(served), `${type} served as ${served}`);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  }
});

Deno.test("GET answers 206 with Content-Range for bytes=2-5", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(request("GET", `/files/${id}`, { headers: { Range: "bytes=2-5" } }));
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range"), "bytes 2-5/10");
  assert.equal(res.headers.get("content-length"), "4");
  assert.deepEqual(res.bytes, DATA.subarray(2, 6));
});

Deno.test("GET answers 206 with the last bytes for a suffix range bytes=-3", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(request("GET", `/files/${id}`, { headers: { Range: "bytes=-3" } }));
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range"), "bytes 7-9/10");
  assert.equal(res.headers.get("content-length"), "3");
  assert.deepEqual(res.bytes, DATA.subarray(7));
});

Deno.test("GET answers 206 to the end for an open range bytes=4-", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(request("GET", `/files/${id}`, { headers: { Range: "bytes=4-" } }));
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range"), "bytes 4-9/10");
  assert.equal(res.headers.get("content-length"), "6");
  assert.deepEqual(res.bytes, DATA.subarray(4));
});

Deno.test("GET clamps a range that ends past the data", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(request("GET", `/files/${id}`, { headers: { Range: "bytes=8-100" } }));
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range"), "bytes 8-9/10");
  assert.deepEqual(res.bytes, DATA.subarray(8));
});

Deno.test("GET answers 416 with Content-Range: bytes */10 for a range past the data", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(
    request("GET", `/files/${id}`, { headers: { ...TUS, Range: "bytes=100-" } }),
  );
  assertTusError(res, 416);
  assert.equal(res.headers.get("content-range"), "bytes */10");
});

Deno.test("GET answers 416 as JSON in the plain dialect", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const res = await h.send(request("GET", `/files/${id}`, { headers: { Range: "bytes=10-" } }));
  assertPlainError(res, 416);
  assert.equal(res.headers.get("content-range"), "bytes */10");
});

Deno.test("GET serves the whole upload with 200 for a malformed or multi-part Range", async () => {
  const h = harness();
  const id = await completeUpload(h);
  for (const range of ["bytes=abc", "items=0-1", "bytes=5-2", "bytes=0-1,3-4", "bytes=-", "2-5"]) {
    const res = await h.send(request("GET", `/files/${id}`, { headers: { Range: range } }));
    assert.equal(res.status, 200, range);
    assert.equal(res.headers.get("content-range"), null, range);
    assert.deepEqual(res.bytes, DATA, range);
  }
});

Deno.test("GET answers 304 with no body when If-None-Match has the ETag", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const first = await h.send(request("GET", `/files/${id}`));
  const etag = first.headers.get("etag");
  assert.ok(etag);
  for (const inm of [etag, `"other", ${etag}`, "*"]) {
    const res = await h.send(request("GET", `/files/${id}`, { headers: { "If-None-Match": inm } }));
    assert.equal(res.status, 304, inm);
    assert.ok(res.noBody);
    assert.equal(res.headers.get("etag"), etag);
  }
  const other = await h.send(
    request("GET", `/files/${id}`, { headers: { "If-None-Match": '"other"' } }),
  );
  assert.equal(other.status, 200);
});

Deno.test("GET answers 304 when If-None-Match has the weak form of the ETag", async () => {
  // RFC 9110 §13.1.2: If-None-Match uses the weak comparison (W/"x" matches "x").
  const h = harness();
  const id = await completeUpload(h);
  const etag = (await h.send(request("GET", `/files/${id}`))).headers.get("etag");
  assert.ok(etag);
  const res = await h.send(
    request("GET", `/files/${id}`, { headers: { "If-None-Match": `W/${etag}` } }),
  );
  assert.equal(res.status, 304);
});

Deno.test("GET honours Range only when If-Range matches the ETag", async () => {
  const h = harness();
  const id = await completeUpload(h);
  const etag = (await h.send(request("GET", `/files/${id}`))).headers.get("etag");
  assert.ok(etag);
  const match = await h.send(request("GET", `/files/${id}`, {
    headers: { Range: "bytes=0-1", "If-Range": etag },
  }));
  assert.equal(match.status, 206);
  assert.deepEqual(match.bytes, DATA.subarray(0, 2));
  const stale = await h.send(request("GET", `/files/${id}`, {
    headers: { Range: "bytes=0-1", "If-Range": '"stale"' },
  }));
  assert.equal(stale.status, 200);
  assert.deepEqual(stale.bytes, DATA);
});

Deno.test("GET answers 409 for an incomplete upload", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 10 });
  await h.send(patchRequest(id, 0, bytes(4)));
  assertTusError(await h.send(request("GET", `/files/${id}`, { headers: { ...TUS } })), 409);
  assertPlainError(await h.send(request("GET", `/files/${id}`)), 409);
  const deferred = await createUpload(h);
  assertPlainError(await h.send(request("GET", `/files/${deferred}`)), 409);
});

Deno.test("GET answers 404 for an unknown upload and 410 for an expired one", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  assertPlainError(await h.send(request("GET", `/files/${"12".repeat(16)}`)), 404);
  const id = await createUpload(h, { length: 10 });
  h.clock.advance(60_001);
  assertPlainError(await h.send(request("GET", `/files/${id}`)), 410);
});
