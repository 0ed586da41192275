/**
 * The upload core against the real request handler, in process (fetch → handler, MemoryStore):
 * fast, deterministic, and exercising the same protocol code as the network tests.
 */
import assert from "node:assert/strict";
import { UploadError } from "../lib/errors.ts";
import { MemoryResumeStore } from "./core/resume_store.ts";
import { bytesSource } from "./core/source.ts";
import { upload, type UploadEvent } from "./upload.ts";
import { data, ENDPOINT, md5, options, server } from "./upload_test_server.ts";

Deno.test("upload sends the file in chunks and verifies both digests", async () => {
  const s = server();
  const bytes = data(100_000);
  const events: UploadEvent[] = [];
  const result = await upload(
    bytesSource(bytes),
    options(s, { chunkSize: 30_000, onEvent: (e) => events.push(e) }),
  );
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  assert.equal(result.md5, md5(bytes));
  assert.equal(result.verified, "digest");
  assert.deepEqual(
    s.log.filter((r) => r.method === "PATCH").map((r) => r.bodyBytes),
    [30_000, 30_000, 30_000, 10_000],
  );
  const acks = events.flatMap((e) =>
    e.type === "progress" && e.sent === e.acknowledged ? [e.acknowledged] : []
  );
  assert.deepEqual(acks, [30_000, 60_000, 90_000, 100_000]);
  assert.equal(events.at(-1)?.type, "completed");
});

Deno.test("a resumed upload seeks to the server's offset and never resends acknowledged bytes", async () => {
  const s = server();
  const bytes = data(50_000);
  const resume = { store: new MemoryResumeStore(), fingerprint: "f".repeat(64) };
  const stop = new AbortController();
  await assert.rejects(
    upload(bytesSource(bytes), {
      ...options(s, { chunkSize: 10_000, resume, signal: stop.signal }),
      onEvent: (e) => e.type === "progress" && e.acknowledged >= 20_000 && stop.abort(),
    }),
    (e) => e instanceof UploadError && e.code === "aborted",
  );
  const remembered = await resume.store.get(resume.fingerprint);
  assert.ok(remembered);
  s.log.length = 0;
  const events: UploadEvent[] = [];
  const result = await upload(
    bytesSource(bytes),
    options(s, { chunkSize: 10_000, resume, onEvent: (e) => events.push(e) }),
  );
  assert.equal(result.url, remembered.url);
  assert.deepEqual(events[0], { type: "resumed", url: remembered.url, offset: 20_000 });
  const sent = s.log.reduce((n, r) => n + r.bodyBytes, 0);
  assert.equal(sent, 30_000, "only the unacknowledged bytes are sent");
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  assert.equal(await resume.store.get(resume.fingerprint), undefined, "record removed on success");
});

Deno.test("the server's offset wins over the client's belief after a truncation", async () => {
  const s = server();
  const bytes = data(40_000);
  const resume = { store: new MemoryResumeStore(), fingerprint: "e".repeat(64) };
  const stop = new AbortController();
  await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 10_000, resume, signal: stop.signal }),
    onEvent: (e) => e.type === "progress" && e.acknowledged >= 30_000 && stop.abort(),
  }).catch(() => {});
  const url = (await resume.store.get(resume.fingerprint))!.url;
  s.store.truncate(url.slice(url.lastIndexOf("/") + 1), 12_345);
  const result = await upload(bytesSource(bytes), options(s, { chunkSize: 10_000, resume }));
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("a 409 from another writer makes the client ask the server and continue", async () => {
  const s = server();
  const bytes = data(30_000);
  let injected = false;
  const result = await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 10_000 }),
    fetch: async (input, init) => {
      const req = new Request(input, init);
      if (!injected && req.method === "PATCH" && req.headers.get("upload-offset") === "10000") {
        injected = true;
        // Another writer appends the next 5,000 (correct) bytes just before the client's PATCH.
        const other = await s.fetch(req.url, {
          method: "PATCH",
          headers: { "Upload-Offset": "10000" },
          body: bytes.slice(10_000, 15_000),
        });
        assert.equal(other.status, 204);
      }
      return s.fetch(req);
    },
  });
  assert.ok(s.log.some((r) => r.status === 409));
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("network errors and 5xx are retried with backoff until the upload completes", async () => {
  const s = server();
  const bytes = data(30_000);
  let failures = 0;
  s.intercept((req, n) => {
    if (req.method === "PATCH" && n % 2 === 1 && failures < 3) {
      failures++;
      return new Response("busy", { status: 503, headers: { "Retry-After": "1" } });
    }
    return undefined;
  });
  const delays: number[] = [];
  const result = await upload(
    bytesSource(bytes),
    options(s, {
      chunkSize: 10_000,
      onEvent: (e) => e.type === "retry" && delays.push(e.delayMs),
    }),
  );
  assert.equal(failures, 3);
  assert.ok(delays.every((d) => d >= 1000), "Retry-After is a floor for the delay");
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("the client gives up after its retries without progress", async () => {
  const s = server();
  s.intercept((req) => req.method === "PATCH" ? new Response("down", { status: 502 }) : undefined);
  await assert.rejects(
    upload(bytesSource(data(1000)), options(s, { retry: { retries: 2 } })),
    (e) => e instanceof UploadError && e.code === "gave-up",
  );
  assert.equal(s.log.filter((r) => r.method === "PATCH").length, 3);
});

Deno.test("an upload gone from the server (404) is started again", async () => {
  const s = server();
  const bytes = data(20_000);
  const resume = { store: new MemoryResumeStore(), fingerprint: "d".repeat(64) };
  await resume.store.set(resume.fingerprint, {
    url: `${ENDPOINT}/${"0".repeat(32)}`,
    endpoint: ENDPOINT,
    size: bytes.length,
    createdAt: 0,
  });
  const events: UploadEvent[] = [];
  const result = await upload(
    bytesSource(bytes),
    options(s, { resume, onEvent: (e) => events.push(e) }),
  );
  assert.ok(events.some((e) => e.type === "restarted"));
  assert.notEqual(result.url, `${ENDPOINT}/${"0".repeat(32)}`);
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("other 4xx answers stop the upload with the server's message", async () => {
  const s = server({ maxSize: 100 });
  await assert.rejects(
    upload(bytesSource(data(1000)), options(s)),
    (e) => e instanceof UploadError && e.code === "rejected" && /maximum/.test(e.message),
  );
});

Deno.test("a digest that differs from the local one fails verification", async () => {
  const s = server();
  const tampered: typeof fetch = async (input, init) => {
    const res = await s.fetch(input, init);
    if (!res.headers.has("repr-digest")) return res;
    const headers = new Headers(res.headers);
    headers.set("repr-digest", "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
    return new Response(null, { status: res.status, headers });
  };
  await assert.rejects(
    upload(bytesSource(data(5000)), { ...options(s), fetch: tampered }),
    (e) => e instanceof UploadError && e.code === "digest-mismatch" && /local/.test(e.message),
  );
});

Deno.test("without a server digest the result says only the size was verified", async () => {
  const s = server();
  const stripped: typeof fetch = async (input, init) => {
    const res = await s.fetch(input, init);
    const headers = new Headers(res.headers);
    headers.delete("repr-digest");
    return new Response(res.body, { status: res.status, headers });
  };
  const result = await upload(bytesSource(data(5000)), { ...options(s), fetch: stripped });
  assert.equal(result.verified, "size");
});

Deno.test("chunkSize Infinity streams the whole file in one PATCH", async () => {
  const s = server();
  const bytes = data(3 * 1024 * 1024);
  const result = await upload(bytesSource(bytes), options(s, { chunkSize: Infinity }));
  assert.deepEqual(s.log.filter((r) => r.method === "PATCH").map((r) => r.bodyBytes), [
    bytes.length,
  ]);
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("an empty file completes with creation alone", async () => {
  const s = server();
  const result = await upload(bytesSource(new Uint8Array(0)), options(s));
  assert.equal(result.size, 0);
  assert.equal(result.verified, "digest");
  assert.equal(s.log.filter((r) => r.method === "PATCH").length, 0);
});

Deno.test("--parallel 3 uploads three partial uploads concurrently and concatenates them", async () => {
  const s = server();
  const bytes = data(100_001, 5);
  const events: UploadEvent[] = [];
  const result = await upload(
    bytesSource(bytes),
    options(s, { parallel: 3, chunkSize: 16_000, onEvent: (e) => events.push(e) }),
  );
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  assert.equal(result.verified, "digest");
  assert.equal(s.log.filter((r) => r.method === "POST").length, 4, "3 partials + 1 final");
  assert.equal(events.filter((e) => e.type === "created" && e.part !== undefined).length, 3);
  const last = events.filter((e) => e.type === "progress").at(-1);
  assert.deepEqual(last && last.type === "progress" && last.acknowledged, bytes.length);
});

Deno.test("a crashed parallel upload resumes every part from its own server offset", async () => {
  const s = server();
  const bytes = data(90_000, 6);
  const resume = { store: new MemoryResumeStore(), fingerprint: "c".repeat(64) };
  const stop = new AbortController();
  await assert.rejects(
    upload(bytesSource(bytes), {
      ...options(s, { parallel: 3, chunkSize: 10_000, resume, signal: stop.signal }),
      onEvent: (e) => e.type === "progress" && e.acknowledged >= 40_000 && stop.abort(),
    }),
    (e) => e instanceof UploadError && e.code === "aborted",
  );
  const record = await resume.store.get(resume.fingerprint);
  assert.equal(record?.parts?.length, 3);
  s.log.length = 0;
  const events: UploadEvent[] = [];
  const result = await upload(
    bytesSource(bytes),
    options(s, { parallel: 3, chunkSize: 10_000, resume, onEvent: (e) => events.push(e) }),
  );
  assert.equal(events.filter((e) => e.type === "resumed").length, 3);
  const sent = s.log.filter((r) => r.method === "PATCH").reduce((n, r) => n + r.bodyBytes, 0);
  assert.ok(sent <= bytes.length - 40_000, `resent ${sent} bytes`);
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("without concatenation on the server, --parallel falls back to one stream", async () => {
  const s = server();
  const noConcat: typeof fetch = async (input, init) => {
    const res = await s.fetch(input, init);
    if (new Request(input, init).method !== "OPTIONS") return res;
    const headers = new Headers(res.headers);
    headers.set("tus-extension", "creation,termination");
    return new Response(null, { status: res.status, headers });
  };
  const events: UploadEvent[] = [];
  const result = await upload(bytesSource(data(20_000)), {
    ...options(s, { parallel: 4, onEvent: (e) => events.push(e) }),
    fetch: noConcat,
  });
  assert.ok(events.some((e) => e.type === "notice" && /one stream/.test(e.message)));
  assert.equal(s.log.filter((r) => r.method === "POST").length, 1);
  assert.equal(result.verified, "digest");
});
