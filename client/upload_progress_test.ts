/**
 * The upload core's checksums, progress events and chunk buffers, against the real request handler
 * in process (fetch → handler, MemoryStore).
 */
import assert from "node:assert/strict";
import { UploadError } from "../lib/errors.ts";
import { MemoryResumeStore } from "./core/resume_store.ts";
import { bytesSource } from "./core/source.ts";
import { upload, type UploadEvent } from "./upload.ts";
import type { ProgressFetch } from "./core/upload_options.ts";
import { data, md5, options, server } from "./upload_test_server.ts";

Deno.test("checksums: the fastest offered with auto, the one asked for, none by default, and 460 resends", async () => {
  const s = server();
  const seen: string[] = [];
  let corrupt = 1;
  const spy: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    if (req.method === "PATCH") {
      seen.push(req.headers.get("upload-checksum")?.split(" ")[0] ?? "none");
      if (corrupt-- > 0) {
        // Damage the first chunk on the way: the server must answer 460.
        const body = new Uint8Array(await req.arrayBuffer());
        body[0] = body[0]! ^ 0xff;
        return s.fetch(new Request(req, { body }));
      }
    }
    return s.fetch(req);
  };
  const events: UploadEvent[] = [];
  const bytes = data(25_000, 7);
  const result = await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 10_000, checksum: "auto", onEvent: (e) => events.push(e) }),
    fetch: spy,
  });
  assert.ok(s.log.some((r) => r.status === 460));
  assert.ok(events.some((e) => e.type === "retry"));
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  assert.ok(seen.every((a) => a === "sha1"), `auto checksum: ${seen}`);
  seen.length = 0;
  await upload(bytesSource(data(5000)), { ...options(s, { checksum: "md5" }), fetch: spy });
  assert.deepEqual(seen, ["md5"]);
  seen.length = 0;
  await upload(bytesSource(data(5000)), { ...options(s, { checksum: "none" }), fetch: spy });
  assert.deepEqual(seen, ["none"]);
  seen.length = 0;
  await upload(bytesSource(data(5000)), { ...options(s, {}), fetch: spy });
  assert.deepEqual(seen, ["none"], "no per-chunk checksum by default");
});

for (const protocol of ["ietf", "plain"] as const) {
  Deno.test(`--protocol ${protocol} uploads, resumes and verifies`, async () => {
    const s = server();
    const bytes = data(30_000, 8);
    const resume = { store: new MemoryResumeStore(), fingerprint: "b".repeat(64) };
    const stop = new AbortController();
    await upload(bytesSource(bytes), {
      ...options(s, { protocol, chunkSize: 10_000, resume, signal: stop.signal }),
      onEvent: (e) => e.type === "progress" && e.acknowledged >= 10_000 && stop.abort(),
    }).catch(() => {});
    const result = await upload(
      bytesSource(bytes),
      options(s, { protocol, chunkSize: 10_000, resume }),
    );
    assert.equal(md5(await s.stored(result.url)), md5(bytes));
    assert.equal(result.verified, "digest");
    assert.ok(s.log.every((r) => r.method !== "OPTIONS"), "no tus discovery");
  });
}

Deno.test("progress that only a HEAD reveals resets the retry count", async () => {
  const s = server();
  // Every PATCH is stored, but its answer is lost on the way back.
  const lossy: typeof fetch = async (input, init) => {
    const res = await s.fetch(input, init);
    if (new Request(input, init).method === "PATCH") {
      await res.body?.cancel();
      throw new TypeError("connection reset");
    }
    return res;
  };
  const bytes = data(10_240, 9);
  const result = await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 1024, retry: { retries: 2 } }),
    fetch: lossy,
  });
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

Deno.test("a digest mismatch forgets the remembered upload", async () => {
  const s = server();
  const resume = { store: new MemoryResumeStore(), fingerprint: "a".repeat(64) };
  const tampered: typeof fetch = async (input, init) => {
    const res = await s.fetch(input, init);
    if (!res.headers.has("repr-digest")) return res;
    const headers = new Headers(res.headers);
    headers.set("repr-digest", "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
    return new Response(null, { status: res.status, headers });
  };
  await assert.rejects(
    upload(bytesSource(data(5000)), { ...options(s, { resume }), fetch: tampered }),
    (e) => e instanceof UploadError && e.code === "digest-mismatch",
  );
  assert.equal(await resume.store.get(resume.fingerprint), undefined);
});

Deno.test("sent moves ahead of acknowledged while a body streams, and only then", async () => {
  const bytes = data(3 * 256 * 1024);
  const progress = async (streamBody: boolean) => {
    const events: UploadEvent[] = [];
    await upload(
      bytesSource(bytes),
      options(server(), { chunkSize: 256 * 1024, streamBody, onEvent: (e) => events.push(e) }),
    );
    return events.flatMap((e) => e.type === "progress" ? [e] : []);
  };
  const streamed = await progress(true);
  const ahead = streamed.filter((e) => e.sent > e.acknowledged);
  assert.ok(ahead.length > 0, "some progress shows bytes sent and not yet acknowledged");
  assert.ok(
    streamed.some((e) => e.acknowledged === 0 && e.sent > 0 && e.sent < 256 * 1024),
    "the first chunk's bytes are reported as they are sent, before it is acknowledged",
  );
  for (const [i, e] of streamed.entries()) {
    assert.ok(e.sent >= e.acknowledged && e.sent <= bytes.length);
    if (i > 0) assert.ok(e.sent >= streamed[i - 1]!.sent, "sent never goes back without a retry");
  }
  const buffered = await progress(false);
  assert.ok(
    buffered.every((e) => e.sent === e.acknowledged),
    "a buffered body: sent is what's saved",
  );
});

Deno.test("after a failed PATCH, sent falls back to the server's offset", async () => {
  const s = server();
  const bytes = data(4 * 65536);
  let failed = false;
  s.intercept((req) => {
    if (req.method !== "PATCH" || failed || req.headers.get("upload-offset") !== "131072") return;
    failed = true;
    return new Response("busy", { status: 503 });
  });
  const events: UploadEvent[] = [];
  await upload(
    bytesSource(bytes),
    options(s, { chunkSize: 131072, streamBody: true, onEvent: (e) => events.push(e) }),
  );
  const retry = events.findIndex((e) => e.type === "retry");
  assert.ok(retry > 0);
  const next = events.slice(retry).find((e) => e.type === "progress");
  assert.ok(next?.type === "progress" && next.sent <= 131072 + 65536, JSON.stringify(next));
});

Deno.test("chunks are read into two buffers taking turns, never one per chunk", async () => {
  const s = server();
  const bytes = data(100_000);
  const buffers = new Set<ArrayBufferLike>();
  const source = {
    ...bytesSource(bytes),
    readInto(offset: number, into: Uint8Array) {
      buffers.add(into.buffer);
      const part = bytes.subarray(offset, offset + into.length);
      into.set(part);
      return Promise.resolve(part.length);
    },
  };
  // A failed PATCH midway: the retry reads its chunk again while the next one is read ahead.
  s.intercept((req, n) =>
    req.method === "PATCH" && n === 3 ? new Response(null, { status: 503 }) : undefined
  );
  const result = await upload(source, options(s, { chunkSize: 10_000 }));
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  assert.equal(result.md5, md5(bytes));
  assert.equal(buffers.size, 2);
});

Deno.test("a streamed upload (chunkSize Infinity) from a file-like source survives a retry", async () => {
  const s = server();
  const bytes = data(300_000);
  const source = {
    ...bytesSource(bytes),
    readInto(offset: number, into: Uint8Array) {
      const part = bytes.subarray(offset, offset + into.length);
      into.set(part);
      return Promise.resolve(part.length);
    },
  };
  s.intercept((req, n) =>
    req.method === "PATCH" && n === 1 ? new Response(null, { status: 503 }) : undefined
  );
  const result = await upload(source, options(s, { chunkSize: Infinity }));
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
});

/**
 * A progress fetch as the page's XMLHttpRequest is one: it reports the body in `pieces` as it
 * "goes out", then hands the request to `s`; `hold(n)` keeps the nth call unanswered until its
 * signal aborts (a stalled request).
 */
function progressFetchOver(
  s: ReturnType<typeof server>,
  pieces: number,
  hold: (n: number) => boolean = () => false,
): ProgressFetch {
  let calls = 0;
  return async (url, init, onSent) => {
    const { signal } = init;
    if (hold(++calls)) {
      return await new Promise<never>((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
      );
    }
    for (let i = 1; i <= pieces; i++) onSent(Math.floor((init.body.length * i) / pieces));
    return await s.fetch(url, init);
  };
}

Deno.test("a buffered body through a progress fetch reports sent as it goes out", async () => {
  const s = server();
  const bytes = data(3 * 65536, 5);
  const events: UploadEvent[] = [];
  const result = await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 65536, streamBody: false, onEvent: (e) => events.push(e) }),
    progressFetch: progressFetchOver(s, 4),
  });
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  const progress = events.flatMap((e) => e.type === "progress" ? [e] : []);
  assert.ok(
    progress.some((e) => e.acknowledged === 0 && e.sent > 0 && e.sent <= 65536),
    "the first chunk's bytes count as sent before it is acknowledged",
  );
  assert.ok(progress.some((e) => e.acknowledged === 0 && e.sent === 65536), "its end, at once");
  for (const e of progress) assert.ok(e.sent >= e.acknowledged && e.sent <= bytes.length);
  assert.equal(s.log.filter((r) => r.method === "PATCH").length, 3, "only PATCHes go through it");
});

Deno.test("a progress fetch that hangs is cut by the deadline (its signal aborts) and resumed", async () => {
  const s = server();
  const bytes = data(30_000, 6);
  const events: UploadEvent[] = [];
  const result = await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 10_000, streamBody: false, onEvent: (e) => events.push(e) }),
    // Long enough that only the held request runs into it, even on a busy machine.
    deadlines: { responseMs: 500, stallMs: 500 },
    progressFetch: progressFetchOver(s, 1, (n) => n === 2),
  });
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  const reasons = events.flatMap((e) => e.type === "retry" ? [e.reason] : []);
  assert.ok(
    reasons.some((r) => /^no response to PATCH of 9\.77 KiB within \d/.test(r)),
    `the held PATCH was cut by its deadline: ${reasons}`,
  );
});
