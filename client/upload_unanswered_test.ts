/**
 * The upload core when requests get no answer: a request that hangs is cut by its deadline and
 * resumed; network failures before anything answered fail fast, after that get the full policy;
 * a creation the server refuses as "nothing here" is final.
 */
import assert from "node:assert/strict";
import { UploadError } from "../lib/errors.ts";
import { FIRST_CONTACT } from "./core/retry.ts";
import { bytesSource } from "./core/source.ts";
import { upload, type UploadEvent } from "./upload.ts";
import { data, md5, options, server } from "./upload_test_server.ts";

/** A fetch that never answers: it only ends when its signal aborts. */
const hang: typeof fetch = (_input, init) =>
  new Promise((_, reject) => {
    const signal = init?.signal;
    if (!signal) return; // never settles: a test without a deadline would hang here
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

Deno.test("a PATCH that never gets an answer is cut by the response deadline, and the upload resumes", async () => {
  const s = server();
  const bytes = data(30_000, 3);
  let patches = 0;
  const events: UploadEvent[] = [];
  const result = await upload(bytesSource(bytes), {
    ...options(s, { chunkSize: 10_000, onEvent: (e) => events.push(e) }),
    deadlines: { responseMs: 50, stallMs: 50 },
    fetch: (input, init) =>
      new Request(input, init).method === "PATCH" && ++patches === 2
        ? hang(input, init)
        : s.fetch(input, init),
  });
  assert.equal(md5(await s.stored(result.url)), md5(bytes));
  const retries = events.filter((e) => e.type === "retry");
  assert.equal(retries.length, 1);
  assert.match(
    (retries[0] as { reason: string }).reason,
    // The body streams (so `sent` moves): the answer is awaited from its last byte on.
    /^no response to PATCH within 0\.05 s$/,
  );
});

Deno.test("before anything answers, network failures get a couple of quick tries, then the reason", async () => {
  let calls = 0;
  const delays: number[] = [];
  const refused: typeof fetch = () => {
    calls++;
    return Promise.reject(
      new TypeError("fetch failed", {
        cause: new Error("client error (Connect): tcp connect error: Connection refused"),
      }),
    );
  };
  await assert.rejects(
    upload(bytesSource(data(1000)), {
      endpoint: "http://127.0.0.1:9/files",
      fetch: refused,
      sleep: (ms) => (delays.push(ms), Promise.resolve()),
      retry: { retries: 8 },
    }),
    (e) =>
      e instanceof UploadError && e.code === "gave-up" &&
      e.message ===
        "connection refused: is the server running at http://127.0.0.1:9/files? " +
          "(3 tries; nothing answered)",
  );
  assert.equal(calls, FIRST_CONTACT.retries + 1);
  assert.deepEqual(delays, [250, 500]);
});

Deno.test("once the server has answered, network failures get the full retry policy", async () => {
  const s = server();
  s.intercept((req) => {
    if (req.method === "PATCH") throw new TypeError("fetch failed");
    return undefined;
  });
  let patches = 0;
  await assert.rejects(
    upload(bytesSource(data(1000)), {
      ...options(s, { retry: { retries: 5 } }),
      fetch: (input, init) => {
        if (new Request(input, init).method === "PATCH") patches++;
        return s.fetch(input, init);
      },
    }),
    (e) => e instanceof UploadError && e.code === "gave-up" && /after 6 attempts/.test(e.message),
  );
  assert.equal(patches, 6);
});

for (const status of [404, 410]) {
  Deno.test(`a creation answered ${status} stops at once with the server's message`, async () => {
    const s = server();
    s.intercept((req) =>
      req.method === "POST" ? new Response("Nothing at /upload", { status }) : undefined
    );
    const events: UploadEvent[] = [];
    await assert.rejects(
      upload(bytesSource(data(1000)), options(s, { onEvent: (e) => events.push(e) })),
      (e) =>
        e instanceof UploadError && e.code === "rejected" && e.status === status &&
        e.message === `Server refused: POST ${status}: Nothing at /upload`,
    );
    assert.equal(s.log.filter((r) => r.method === "POST").length, 1);
    assert.ok(!events.some((e) => e.type === "restarted"), "no starting over");
  });
}
