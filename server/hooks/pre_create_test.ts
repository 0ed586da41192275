import assert from "node:assert/strict";
import { UploadError } from "../../lib/errors.ts";
import { startHookReceiver } from "../../tests/helpers/hook_receiver.ts";
import { hookEvent } from "./events.ts";
import { MAX_MESSAGE, preCreate, refusalMessage } from "./pre_create.ts";

const EVENT = hookEvent("pre-create", {
  id: "0123456789abcdef0123456789abcdef",
  length: 10,
  offset: 0,
  metadata: "filetype dmlkZW8vbXA0",
  createdAt: 0,
  updatedAt: 0,
  owner: "alice",
}, { now: 0, url: "http://up.test/files/0123456789abcdef0123456789abcdef" });

async function refusal(promise: Promise<void>): Promise<UploadError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UploadError, String(error));
    return error;
  }
  assert.fail("expected the creation to be refused");
}

Deno.test("preCreate lets the upload through when every receiver answers 2xx, and shows it the upload", async () => {
  await using a = await startHookReceiver(() => 200);
  await using b = await startHookReceiver(() => 204);
  await preCreate(EVENT, { urls: [a.url, b.url], timeoutMs: 5000 });
  const [hook] = await a.waitFor(1);
  assert.equal(hook!.type, "pre-create");
  assert.equal(hook!.contentType, "application/json");
  assert.deepEqual(hook!.event, JSON.parse(JSON.stringify(EVENT)));
  assert.deepEqual(hook!.event.metadata, { filetype: "video/mp4" });
  assert.equal(b.received.length, 1);
});

Deno.test("preCreate passes a receiver's 4xx on with its message and Retry-After", async () => {
  await using ok = await startHookReceiver(() => 200);
  await using no = await startHookReceiver(() =>
    new Response("no videos\n", { status: 403, headers: { "Retry-After": "120" } })
  );
  const error = await refusal(preCreate(EVENT, { urls: [ok.url, no.url], timeoutMs: 5000 }));
  assert.equal(error.status, 403);
  assert.equal(error.code, "hook-refused");
  assert.equal(error.message, "no videos");
  assert.deepEqual(error.headers, { "Retry-After": "120" });
});

Deno.test("preCreate takes the message of a JSON refusal, and says something when there is none", async () => {
  await using json = await startHookReceiver(() =>
    Response.json({ error: { message: "quota: 2 GiB left" } }, { status: 413 })
  );
  const error = await refusal(preCreate(EVENT, { urls: [json.url], timeoutMs: 5000 }));
  assert.equal(error.status, 413);
  assert.equal(error.message, "quota: 2 GiB left");
  assert.deepEqual(error.headers, {});

  await using bare = await startHookReceiver(() => 422);
  const silent = await refusal(preCreate(EVENT, { urls: [bare.url], timeoutMs: 5000 }));
  assert.equal(silent.status, 422);
  assert.equal(silent.message, "Refused by the pre-create hook (HTTP 422)");
});

Deno.test("refusalMessage makes one short line: control characters gone, truncated", () => {
  const res = { status: 400, headers: new Headers() };
  assert.equal(refusalMessage("bad\r\nX-Injected: 1\u0000\tthing", res), "bad X-Injected: 1 thing");
  const long = refusalMessage("x".repeat(5000), res);
  assert.equal(long.length, MAX_MESSAGE);
  assert.ok(long.endsWith("…"));
  const json = { status: 400, headers: new Headers({ "content-type": "application/json" }) };
  assert.equal(refusalMessage('{"message":"no\\nway"}', json), "no way");
  assert.equal(refusalMessage("{not json", json), "{not json");
});

Deno.test("preCreate fails closed: a 5xx, a redirect, a dead receiver or no answer in time refuse with 503", async () => {
  const reasons: string[] = [];
  const onUnavailable = (_url: string, reason: string) => void reasons.push(reason);
  await using broken = await startHookReceiver(() =>
    new Response("db down", { status: 500, headers: { "Retry-After": "30" } })
  );
  const e500 = await refusal(
    preCreate(EVENT, { urls: [broken.url], timeoutMs: 5000, onUnavailable }),
  );
  assert.equal(e500.status, 503);
  assert.equal(e500.code, "hook-unavailable");
  assert.doesNotMatch(e500.message, /db down/, "a receiver's own failure is not shown to clients");
  assert.deepEqual(e500.headers, { "Retry-After": "30" });

  await using moved = await startHookReceiver(() =>
    new Response(null, { status: 302, headers: { Location: "http://elsewhere.test/" } })
  );
  assert.equal(
    (await refusal(preCreate(EVENT, { urls: [moved.url], timeoutMs: 5000, onUnavailable }))).status,
    503,
  );

  // A port nothing listens on: the receiver is gone.
  const gone = await startHookReceiver();
  const goneUrl = gone.url;
  await gone[Symbol.asyncDispose]();
  const eGone = await refusal(
    preCreate(EVENT, { urls: [goneUrl], timeoutMs: 5000, onUnavailable }),
  );
  assert.equal(eGone.status, 503);
  assert.deepEqual(eGone.headers, { "Retry-After": "10" });

  const release = Promise.withResolvers<void>();
  await using slow = await startHookReceiver(async () => {
    await release.promise;
    return 200;
  });
  try {
    const eSlow = await refusal(
      preCreate(EVENT, { urls: [slow.url], timeoutMs: 100, onUnavailable }),
    );
    assert.equal(eSlow.status, 503);
  } finally {
    release.resolve();
  }
  assert.deepEqual(reasons.slice(0, 2), ["answered 500", "answered 302"]);
  assert.equal(reasons[3], "no answer within 100 ms");
});

Deno.test("preCreate turns a receiver's 401, 404, 409 or 410 into 403, which clients take as a refusal", async () => {
  for (const status of [401, 404, 409, 410]) {
    await using hook = await startHookReceiver(() => new Response("not you", { status }));
    const error = await refusal(preCreate(EVENT, { urls: [hook.url], timeoutMs: 5000 }));
    assert.equal(error.status, 403, `a receiver's ${status}`);
    assert.equal(error.message, "not you");
  }
});
