import assert from "node:assert/strict";
import { signJwt } from "../../../lib/jwt.ts";
import { SENDING_WITHIN_MS } from "../progress.ts";
import {
  bytes,
  createUpload,
  harness,
  patchRequest,
  request,
  streamPatch,
  T0,
  TUS,
} from "./test_harness.ts";

const SECRET = "a-test-secret-of-enough-length";
const bearer = async (sub: string, claims: Record<string, unknown> = {}) => ({
  Authorization: `Bearer ${await signJwt({ sub, exp: T0 / 1000 + 7200, ...claims }, SECRET)}`,
});

/** A listing request as a local program sends it (no auth: only those may list). */
const local = (path: string) => new Request(`http://127.0.0.1:1080${path}`);

interface Listed {
  uploads: { id: string; state: string; offset: number; owner?: string }[];
  nextCursor: string | null;
}

Deno.test("status: state, percent, rate over the last minute and ETA while bytes arrive, none when idle", async () => {
  const h = harness();
  const id = await createUpload(h, { length: 1000 });
  const status = async () => {
    const res = await h.send(request("GET", `/files/${id}/status`));
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.text);
  };
  let s = await status();
  assert.equal(s.state, "created");
  assert.equal(s.bytesPerSecond, null);
  assert.equal(s.etaSeconds, null);
  const patch = streamPatch(h, id);
  await patch.feed(bytes(100), 100);
  h.clock.advance(10_000);
  await patch.feed(bytes(100, 100), 200);
  s = await status();
  assert.equal(s.state, "uploading");
  assert.equal(s.percent, 20);
  assert.equal(s.bytesPerSecond, 20, "200 bytes over 10 s");
  assert.equal(s.etaSeconds, 40, "800 bytes left at 20 B/s");
  h.clock.advance(SENDING_WITHIN_MS);
  s = await status();
  assert.equal(s.bytesPerSecond, null, "nobody has sent a byte for a while: no rate");
  assert.equal(s.etaSeconds, null);
  patch.body.push(bytes(800, 200));
  patch.body.close();
  assert.equal((await patch.reply).status, 204);
  s = await status();
  assert.equal(s.state, "complete");
  assert.equal(s.etaSeconds, null);
  assert.match(s.digests.sha256, /^[0-9a-f]{64}$/);
});

Deno.test("status and listing show terminated and expired uploads; the protocol answers 410", async () => {
  const h = harness({ config: { expireMs: 60_000 } });
  const gone = await createUpload(h, { length: 10 });
  const stale = await createUpload(h, { length: 10 });
  const done = await createUpload(h, { length: 2, data: bytes(2) });
  assert.equal((await h.send(request("DELETE", `/files/${gone}`, { headers: TUS }))).status, 204);
  h.clock.advance(61_000);
  const state = async (id: string) =>
    JSON.parse((await h.send(request("GET", `/files/${id}/status`))).text).state;
  assert.equal(await state(gone), "terminated");
  assert.equal(await state(stale), "expired", "expired but not swept yet");
  assert.equal(await state(done), "complete");
  assert.equal((await h.send(request("HEAD", `/files/${gone}`, { headers: TUS }))).status, 410);
  assert.equal((await h.send(request("HEAD", `/files/${stale}`, { headers: TUS }))).status, 410);
  const listed: Listed = JSON.parse(
    (await h.send(local("/files?state=terminated,expired"))).text,
  );
  assert.deepEqual(listed.uploads.map((u) => u.id).sort(), [gone, stale].sort());
});

Deno.test("listing: newest first, paginated by cursor without skips or repeats, filtered by state", async () => {
  const h = harness();
  const made: string[] = [];
  for (let i = 0; i < 7; i++) {
    made.push(await createUpload(h, { length: 4, ...(i % 3 === 0 ? { data: bytes(4) } : {}) }));
    if (i % 2 === 0) h.clock.advance(1000); // some share a creation time: ties broken by id
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const path: string = `/files?limit=3${cursor ? `&cursor=${cursor}` : ""}`;
    const res = await h.send(local(path));
    assert.equal(res.status, 200, res.text);
    const page: Listed = JSON.parse(res.text);
    assert.ok(page.uploads.length <= 3);
    if (page.nextCursor) assert.match(res.headers.get("link") ?? "", /rel="next"/);
    seen.push(...page.uploads.map((u) => u.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.equal(new Set(seen).size, 7);
  const created = await Promise.all(seen.map(async (id) => (await h.store.get(id))!.createdAt));
  for (let i = 1; i < created.length; i++) {
    assert.ok(created[i - 1]! >= created[i]!, "newest first");
  }
  const complete: Listed = JSON.parse((await h.send(local("/files?state=complete"))).text);
  assert.deepEqual(complete.uploads.map((u) => u.id).sort(), [made[0], made[3], made[6]].sort());
  assert.ok(complete.uploads.every((u) => u.state === "complete"));
});

Deno.test("listing: bad queries are 400 with a message", async () => {
  const h = harness();
  for (
    const query of [
      "state=bogus",
      "limit=0",
      "limit=5000",
      "limit=x",
      "cursor=%%%",
      "cursor=YWJj",
      "sort=asc",
    ]
  ) {
    const res = await h.send(local(`/files?${query}`));
    assert.equal(res.status, 400, `${query}: ${res.text}`);
    assert.match(JSON.parse(res.text).error.message, /\w/);
  }
});

Deno.test("listing with auth: an owner sees their own, an admin token sees all", async () => {
  const h = harness({ config: { authSecret: SECRET } });
  const create = async (sub: string) => {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Length": "5", ...(await bearer(sub)) },
    }));
    assert.equal(res.status, 201, res.text);
    return res.headers.get("location")!.split("/").at(-1)!;
  };
  const a = await create("ann");
  const b = await create("bob");
  const list = async (headers: Record<string, string>) => {
    const res = await h.send(request("GET", "/files", { headers }));
    assert.equal(res.status, 200, res.text);
    return (JSON.parse(res.text) as Listed).uploads.map((u) => u.id).sort();
  };
  assert.deepEqual(await list(await bearer("ann")), [a]);
  assert.deepEqual(await list(await bearer("bob")), [b]);
  assert.deepEqual(await list(await bearer("root", { admin: true })), [a, b].sort());
  assert.deepEqual(await list(await bearer("eve", { admin: "true" })), [], "admin must be true");
  assert.equal((await h.send(local("/files"))).status, 401);
  // Status: the owner and an admin see it; anyone else gets 404.
  const status = async (headers: Record<string, string>) =>
    (await h.send(request("GET", `/files/${a}/status`, { headers }))).status;
  assert.equal(await status(await bearer("ann")), 200);
  assert.equal(await status(await bearer("root", { admin: true })), 200);
  assert.equal(await status(await bearer("bob")), 404);
  // An admin reads; it doesn't write others' uploads.
  const patch = patchRequest(a, 0, bytes(1));
  const admin = await bearer("root", { admin: true });
  const res = await h.send(
    new Request(patch.url, {
      method: "PATCH",
      headers: { ...Object.fromEntries(patch.headers), ...admin },
      body: bytes(1),
    }),
  );
  assert.equal(res.status, 404);
});

Deno.test("listing without auth is refused unless the server listens on loopback only", async () => {
  assert.equal(
    (await harness({ config: { host: "0.0.0.0" } }).send(local("/files"))).status,
    403,
  );
  assert.equal(
    (await harness({ config: { behindProxy: true } }).send(local("/files"))).status,
    403,
  );
  const h = harness();
  assert.equal((await h.send(local("/files"))).status, 200);
  // A loopback server can still be reached by a browser (any site's page: CORS is open) or
  // through a DNS-rebound name or a local proxy: none of those may list.
  const refused: [string, Record<string, string>][] = [
    ["http://127.0.0.1/files", { Origin: "https://evil.example" }],
    ["http://evil.example:1080/files", {}],
    ["http://127.0.0.1/files", { "X-Forwarded-For": "203.0.113.9" }],
    ["http://127.0.0.1/files", { Forwarded: "for=203.0.113.9" }],
  ];
  for (const [url, headers] of refused) {
    const res = await h.send(new Request(url, { headers }));
    assert.equal(res.status, 403, `${url} ${JSON.stringify(headers)}: ${res.text}`);
  }
  assert.equal((await h.send(new Request("http://localhost:1080/files"))).status, 200);
});
