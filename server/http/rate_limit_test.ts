import assert from "node:assert/strict";
import { signJwt } from "../../lib/jwt.ts";
import { MemoryRateCounter } from "./rate_limit.ts";
import {
  Clock,
  createUpload,
  harness,
  OCTET,
  patchRequest,
  request,
  T0,
  TUS,
} from "./handlers/test_harness.ts";

const LIMIT = { count: 3, periodMs: 3_600_000 };
const create = (headers: Record<string, string> = {}) =>
  request("POST", "/files", { headers: { ...TUS, "Upload-Length": "10", ...headers } });

Deno.test("MemoryRateCounter: a window opens with the first creation and closes after the period", async () => {
  const clock = new Clock();
  const counter = new MemoryRateCounter(clock.now);
  assert.deepEqual(await counter.take("a", LIMIT), { start: T0, count: 1, now: T0 });
  clock.advance(1000);
  assert.deepEqual(await counter.take("a", LIMIT), { start: T0, count: 2, now: T0 + 1000 });
  assert.deepEqual(await counter.take("b", LIMIT), { start: T0 + 1000, count: 1, now: T0 + 1000 });
  clock.advance(LIMIT.periodMs - 1000);
  const reopened = await counter.take("a", LIMIT);
  assert.deepEqual(reopened, { start: T0 + LIMIT.periodMs, count: 1, now: T0 + LIMIT.periodMs });
});

Deno.test("MemoryRateCounter keeps at most its bound of keys, dropping closed windows first", async () => {
  const clock = new Clock();
  const counter = new MemoryRateCounter(clock.now, 100);
  for (let i = 0; i < 1000; i++) await counter.take(`k${i}`, LIMIT);
  assert.equal(counter.size, 100, "the oldest windows went");
  assert.equal((await counter.take("k999", LIMIT)).count, 2, "the newest are kept");
  clock.advance(LIMIT.periodMs);
  await counter.take("fresh", LIMIT);
  assert.equal(counter.size, 1, "closed windows are dropped once seen");
});

Deno.test("the N+1st creation in the period gets 429 with Retry-After and when; appends go on", async () => {
  const h = harness({ config: { rateLimit: LIMIT }, peer: () => "192.0.2.7" });
  const ids: string[] = [];
  for (let i = 0; i < LIMIT.count; i++) ids.push(await createUpload(h, { length: 10 }));
  h.clock.advance(600_000);
  const refused = await h.send(create());
  assert.equal(refused.status, 429, refused.text);
  assert.equal(refused.headers.get("retry-after"), "3000");
  assert.match(
    refused.text,
    /at most 3 per 1h .*try again in 3000 s \(at 2030-01-01T13:00:00\.000Z\)/,
  );
  // A malformed creation is refused for what it is, and costs nothing.
  assert.equal((await h.send(create({ "Upload-Length": "x" }))).status, 400);
  // Appends to existing uploads are never rate-limited.
  for (const id of ids) {
    assert.equal((await h.send(patchRequest(id, 0, new Uint8Array(10)))).status, 204);
  }
  // Another address has its own window; a concatenation's final creation counts too.
  const other = harness({ config: { rateLimit: { count: 1, periodMs: 60_000 } } });
  const partial = await other.send(create({ "Upload-Concat": "partial" }));
  assert.equal(partial.status, 201);
  const part = new URL(partial.headers.get("location")!).pathname.split("/").pop();
  const final = await other.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;/files/${part}` },
  }));
  assert.equal(final.status, 429, final.text);
  h.clock.advance(3_000_000);
  assert.equal((await h.send(create())).status, 201, "a new window opens after the period");
});

Deno.test("the limit is per client address: the peer's, or behind a proxy the one it added", async () => {
  let peer = "192.0.2.1";
  const one = { count: 1, periodMs: 60_000 };
  const direct = harness({ config: { rateLimit: one }, peer: () => peer });
  assert.equal((await direct.send(create({ "X-Forwarded-For": "198.51.100.1" }))).status, 201);
  // Without --behind-proxy a forwarding header is just a header.
  assert.equal((await direct.send(create({ "X-Forwarded-For": "198.51.100.2" }))).status, 429);
  peer = "192.0.2.2";
  assert.equal((await direct.send(create())).status, 201);

  const proxied = harness({
    config: { rateLimit: one, behindProxy: true },
    peer: () => "10.0.0.1",
  });
  const created = async (headers: Record<string, string>) =>
    (await proxied.send(create(headers))).status;
  assert.equal(await created({ "X-Forwarded-For": "203.0.113.9, 198.51.100.1" }), 201);
  // A client can make up the first entries, not the last (the proxy's): still 198.51.100.1.
  assert.equal(await created({ "X-Forwarded-For": "203.0.113.10, 198.51.100.1" }), 429);
  assert.equal(await created({ Forwarded: 'for=203.0.113.11, for="198.51.100.1:4711"' }), 429);
  assert.equal(await created({ Forwarded: 'for="[2001:DB8::1]:4711";proto=https' }), 201);
  assert.equal(await created({ Forwarded: "for=[2001:db8::1]" }), 429);
  assert.equal(await created({ "X-Forwarded-For": "198.51.100.2" }), 201);
});

Deno.test("with auth the limit is per owner, wherever the owner connects from", async () => {
  const secret = "test-secret-0123456789";
  const bearer = async (sub: string) => ({
    Authorization: `Bearer ${await signJwt({ sub, exp: T0 / 1000 + 3600 }, secret)}`,
  });
  let peer = "192.0.2.1";
  const h = harness({
    config: { authSecret: secret, rateLimit: { count: 1, periodMs: 60_000 } },
    peer: () => peer,
  });
  assert.equal((await h.send(create(await bearer("alice")))).status, 201);
  peer = "192.0.2.2";
  assert.equal((await h.send(create(await bearer("alice")))).status, 429);
  assert.equal((await h.send(create(await bearer("bob")))).status, 201);
  const plain = await h.send(request("POST", "/files", {
    headers: { ...(await bearer("alice")), "Content-Type": OCTET },
  }));
  assert.equal(plain.status, 429);
  assert.equal(JSON.parse(plain.text).error.code, "rate-limited");
});
