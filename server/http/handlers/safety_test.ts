/** Issue 5 at the handler: auth and ownership, admission, idle bodies, type checks, quotas. */
import assert from "node:assert/strict";
import { signJwt } from "../../../lib/jwt.ts";
import { encodeMetadata } from "../../../lib/metadata.ts";
import { AccountedStore } from "../../store/accounted_store.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import {
  bytes,
  Clock,
  createUpload,
  harness,
  idOf,
  ids,
  OCTET,
  patchRequest,
  request,
  stored,
  T0,
  TUS,
  until,
} from "./test_harness.ts";

const SECRET = "test-secret-0123456789";
const bearer = async (sub: string, claims: Record<string, unknown> = {}) => ({
  Authorization: `Bearer ${await signJwt({ sub, exp: T0 / 1000 + 3600, ...claims }, SECRET)}`,
});

Deno.test("auth: no or bad token is 401 with a challenge; OPTIONS stays open", async () => {
  const h = harness({ config: { authSecret: SECRET } });
  const none = await h.send(
    request("POST", "/files", { headers: { ...TUS, "Upload-Length": "5" } }),
  );
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer realm="resumable"/);
  for (
    const token of [
      "garbage",
      await signJwt({ sub: "alice" }, "another-secret-entirely"),
      await signJwt({ sub: "alice", exp: T0 / 1000 - 3600 }, SECRET),
    ]
  ) {
    const res = await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Length": "5", Authorization: `Bearer ${token}` },
    }));
    assert.equal(res.status, 401, token);
    assert.match(res.headers.get("www-authenticate") ?? "", /invalid_token/);
  }
  assert.equal((await h.send(request("OPTIONS", "/files"))).status, 204);
  assert.deepEqual(await ids(h.store), [], "nothing was created without a valid token");
});

Deno.test("auth: someone else's upload does not exist for you", async () => {
  const h = harness({ config: { authSecret: SECRET } });
  const alice = await bearer("alice");
  const bob = await bearer("bob");
  const created = await h.send(request("POST", "/files", {
    headers: { ...TUS, ...alice, "Upload-Length": "10", "Upload-Concat": "partial" },
  }));
  assert.equal(created.status, 201);
  const id = idOf(created.headers.get("location"));
  assert.equal((await h.send(patchRequest(id, 0, bytes(10), alice))).status, 204);
  for (
    const req of [
      request("HEAD", `/files/${id}`, { headers: { ...TUS, ...bob } }),
      request("GET", `/files/${id}`, { headers: bob }),
      request("GET", `/files/${id}/status`, { headers: bob }),
      request("DELETE", `/files/${id}`, { headers: { ...TUS, ...bob } }),
      patchRequest(id, 10, bytes(1), bob),
    ]
  ) {
    assert.equal((await h.send(req)).status, 404, `${req.method} ${req.url}`);
  }
  const concat = await h.send(request("POST", "/files", {
    headers: { ...TUS, ...bob, "Upload-Concat": `final;/files/${id}` },
  }));
  assert.equal(concat.status, 400, "bob can't concatenate alice's part");
  const unknown = "0".repeat(32);
  const none = await h.send(request("POST", "/files", {
    headers: { ...TUS, ...bob, "Upload-Concat": `final;/files/${unknown}` },
  }));
  assert.equal(none.status, 400);
  assert.equal(
    concat.text.replace(id, "ID"),
    none.text.replace(unknown, "ID"),
    "alice's part is refused as one that doesn't exist",
  );
  const own = await h.send(request("HEAD", `/files/${id}`, { headers: { ...TUS, ...alice } }));
  assert.equal(own.status, 200);
  assert.equal((await h.store.get(id))?.owner, "alice");
});

Deno.test("admission: past --max-active a body gets 503 + Retry-After at once; HEAD still works", async () => {
  const h = harness({ config: { maxActive: 1 } });
  const a = await createUpload(h, { length: 100 });
  const b = await createUpload(h, { length: 100 });
  let hold!: ReadableStreamDefaultController<Uint8Array>;
  const held = h.send(request("PATCH", `/files/${a}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new ReadableStream({ start: (c) => void (hold = c) }),
  }));
  hold.enqueue(bytes(10));
  await until("the first body to be written", async () => (await h.store.get(a))?.offset === 10);
  const refused = await h.send(patchRequest(b, 0, bytes(5)));
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "2");
  assert.equal((await h.store.get(b))?.offset, 0);
  const head = await h.send(request("HEAD", `/files/${b}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200);
  hold.close();
  assert.equal((await held).status, 204);
  assert.equal((await h.send(patchRequest(b, 0, bytes(5)))).status, 204, "a slot is free again");
});

Deno.test("idle timeout: a body silent too long is cut with 408, its bytes kept", async () => {
  const h = harness({ config: { idleTimeoutMs: 50 } });
  const id = await createUpload(h, { length: 100 });
  let hold!: ReadableStreamDefaultController<Uint8Array>;
  const res = h.send(request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new ReadableStream({ start: (c) => void (hold = c) }),
  }));
  hold.enqueue(bytes(7));
  const reply = await res;
  assert.equal(reply.status, 408);
  assert.equal(reply.headers.get("upload-offset"), "7");
  assert.equal((await stored(h.store, id))?.offset, 7);
  assert.equal((await h.send(patchRequest(id, 7, bytes(3, 7)))).status, 204, "lock released");
});

const PNG = new Uint8Array([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  ...new Array(600).fill(1),
]);
const ZIP = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Array(600).fill(0)]);

Deno.test("allow-types: allowed types pass, others and disguises are 415 and discarded", async () => {
  const h = harness({ config: { allowTypes: ["image/*", "application/pdf"] } });
  const png = await createUpload(h, { length: PNG.length });
  assert.equal((await h.send(patchRequest(png, 0, PNG))).status, 204);

  const zip = await createUpload(h, { length: ZIP.length });
  const refused = await h.send(patchRequest(zip, 0, ZIP));
  assert.equal(refused.status, 415);
  assert.match(refused.text, /application\/zip/);
  const tomb = await h.store.get(zip);
  assert.equal(tomb?.ended?.state, "terminated", "the upload is discarded (a tombstone is left)");
  assert.equal(tomb?.offset, 0, "no byte of it is kept");

  const disguised = await createUpload(h, {
    length: PNG.length,
    metadata: encodeMetadata({ filetype: "application/pdf" }),
  });
  const lie = await h.send(patchRequest(disguised, 0, PNG));
  assert.equal(lie.status, 415);
  assert.match(lie.text, /declared as application\/pdf/);

  const post = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Length": String(ZIP.length),
      "Content-Type": OCTET,
      "Content-Length": String(ZIP.length),
    },
    body: ZIP,
  }));
  assert.equal(post.status, 415, "creation-with-upload is checked too");
});

Deno.test("allow-types: a final upload is checked by its first part's bytes", async () => {
  const h = harness({ config: { allowTypes: ["image/png"] } });
  const part = async (data: Uint8Array<ArrayBuffer>) => {
    const id = idOf((await h.send(request("POST", "/files", {
      headers: { ...TUS, "Upload-Length": String(data.length), "Upload-Concat": "partial" },
    }))).headers.get("location"));
    assert.equal((await h.send(patchRequest(id, 0, data))).status, 204, "parts aren't sniffed");
    return id;
  };
  const good = [await part(PNG), await part(bytes(100))];
  const ok = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;/files/${good[0]} /files/${good[1]}` },
  }));
  assert.equal(ok.status, 201);
  const empty = await part(new Uint8Array(0));
  const shortStart = await part(PNG.slice(0, 3));
  const rest = await part(PNG.slice(3));
  const spanning = await h.send(request("POST", "/files", {
    headers: {
      ...TUS,
      "Upload-Concat": `final;/files/${empty} /files/${shortStart} /files/${rest}`,
    },
  }));
  assert.equal(spanning.status, 201, "an empty or short first part: sniffed across parts");
  const bad = [await part(ZIP), await part(PNG)];
  const refused = await h.send(request("POST", "/files", {
    headers: { ...TUS, "Upload-Concat": `final;/files/${bad[0]} /files/${bad[1]}` },
  }));
  assert.equal(refused.status, 415);
});

Deno.test("quota: an owner can't hold more than --quota; other owners are apart", async () => {
  const clock = new Clock();
  const store = await AccountedStore.open(new MemoryStore(clock.now), 1000);
  const h = harness({ store, clock, usage: store, config: { authSecret: SECRET, quota: 1000 } });
  const alice = await bearer("alice");
  const bob = await bearer("bob");
  const create = (who: Record<string, string>, headers: Record<string, string>) =>
    h.send(request("POST", "/files", { headers: { ...TUS, ...who, ...headers } }));
  assert.equal((await create(alice, { "Upload-Length": "600" })).status, 201);
  const over = await create(alice, { "Upload-Length": "600" });
  assert.equal(over.status, 413);
  assert.match(over.text, /Quota exceeded: alice holds 600 of 1000 bytes/);
  assert.equal((await create(bob, { "Upload-Length": "600" })).status, 201, "bob's own quota");
  const deferred = idOf(
    (await create(alice, { "Upload-Defer-Length": "1" })).headers.get("location"),
  );
  const refused = await h.send(patchRequest(deferred, 0, bytes(500), alice));
  assert.equal(refused.status, 413, "a body announced past the quota is refused unread");
  assert.equal(store.of("alice"), 600);
  const streamed = await h.send(request("PATCH", `/files/${deferred}`, {
    headers: { ...TUS, ...alice, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new Blob([bytes(500)]).stream(),
  }));
  assert.equal(streamed.status, 413, "a streamed body stops at the quota");
  assert.equal(streamed.headers.get("upload-offset"), "400");
  assert.equal(store.of("alice"), 1000);
  const declared = idOf(
    (await create(bob, { "Upload-Defer-Length": "1" })).headers.get("location"),
  );
  const tooLong = await h.send(
    patchRequest(declared, 0, bytes(0), { ...bob, "Upload-Length": "500" }),
  );
  assert.equal(tooLong.status, 413, "declaring a length past the quota");
});

Deno.test("allow-types: a body silent from its start is 408 and the upload is kept", async () => {
  const h = harness({ config: { allowTypes: ["image/*"], idleTimeoutMs: 50 } });
  const id = await createUpload(h, { length: 1000 });
  const res = await h.send(request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new ReadableStream({ start() {} }),
  }));
  assert.equal(res.status, 408);
  assert.equal((await h.store.get(id))?.offset, 0, "the upload is still there, untouched");
});

Deno.test("quota: concurrent creations and concurrent deferred streams can't pass it", async () => {
  const clock = new Clock();
  const store = await AccountedStore.open(new MemoryStore(clock.now), 1000);
  const h = harness({ store, clock, usage: store, config: { authSecret: SECRET, quota: 1000 } });
  const alice = await bearer("alice");
  const creations = await Promise.all(
    Array.from(
      { length: 10 },
      () =>
        h.send(
          request("POST", "/files", { headers: { ...TUS, ...alice, "Upload-Length": "600" } }),
        ),
    ),
  );
  assert.equal(creations.filter((r) => r.status === 201).length, 1, "only one fits");
  assert.equal(store.of("alice"), 600);

  const deferred = await Promise.all(
    [1, 2, 3].map(async () =>
      idOf((await h.send(request("POST", "/files", {
        headers: { ...TUS, ...alice, "Upload-Defer-Length": "1" },
      }))).headers.get("location"))
    ),
  );
  // Three streams written at once, chunk by chunk, each wanting 300 of the 400 bytes left.
  const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
  const replies = deferred.map((id) =>
    h.send(request("PATCH", `/files/${id}`, {
      headers: { ...TUS, ...alice, "Content-Type": OCTET, "Upload-Offset": "0" },
      body: new ReadableStream({ start: (c) => void controllers.push(c) }),
    }))
  );
  for (let round = 0; round < 3; round++) {
    for (const c of controllers) {
      try {
        c.enqueue(bytes(100));
      } catch { /* cancelled by the server after its 413 */ }
    }
    await until(
      "the round to be taken",
      () => store.of("alice") >= Math.min(1000, 600 + (round + 1) * 300),
    );
  }
  for (const c of controllers) {
    try {
      c.close();
    } catch { /* already cancelled by the server */ }
  }
  const statuses = (await Promise.all(replies)).map((r) => r.status).sort();
  assert.ok(statuses.includes(413), `someone hit the quota: ${statuses}`);
  assert.equal(store.of("alice"), 1000, "never more than the quota");
  let stored = 0;
  for (const id of deferred) stored += (await h.store.get(id))?.offset ?? 0;
  assert.equal(stored, 400);
});

Deno.test("min rate: a body that drips too slowly is cut like a silent one", async () => {
  const h = harness({ config: { idleTimeoutMs: 60, minRate: 100_000 } }); // 6,000 bytes per window
  const id = await createUpload(h, { length: 100_000 });
  let drip!: ReturnType<typeof setInterval>;
  const res = await h.send(request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new ReadableStream({
      start: (c) => void (drip = setInterval(() => c.enqueue(bytes(100)), 10)),
      cancel: () => clearInterval(drip),
    }),
  }));
  clearInterval(drip);
  assert.equal(res.status, 408);
  assert.match(res.text, /less than 100000 bytes\/s/);
  const kept = Number(res.headers.get("upload-offset"));
  assert.ok(kept > 0 && kept < 6000, `kept ${kept} bytes`);
  assert.equal((await h.store.get(id))?.offset, kept);
});

Deno.test("allow-types: a type check can't be dripped out; a newer request stops it at once", async () => {
  const h = harness({ config: { allowTypes: ["image/*"], idleTimeoutMs: 200, minRate: 1000 } });
  const id = await createUpload(h, { length: 10_000 });
  let drip!: ReturnType<typeof setInterval>;
  const started = Date.now();
  const slow = await h.send(request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new ReadableStream({
      start: (c) => {
        c.enqueue(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
        drip = setInterval(() => c.enqueue(new Uint8Array([1])), 50); // never 512 bytes in time
      },
      cancel: () => clearInterval(drip),
    }),
  }));
  clearInterval(drip);
  assert.ok(Date.now() - started < 2000, "one deadline for the whole sample");
  assert.equal(slow.status, 408, "judged on what came in time, then cut for its rate");

  const other = await createUpload(h, { length: 10_000 });
  let hold!: ReadableStreamDefaultController<Uint8Array>;
  const held = h.send(request("PATCH", `/files/${other}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": "0" },
    body: new ReadableStream({ start: (c) => void (hold = c) }),
  }));
  hold.enqueue(new Uint8Array([0x89, 0x50]));
  const head = await h.send(request("HEAD", `/files/${other}`, { headers: { ...TUS } }));
  assert.equal(head.status, 200, "the HEAD took over without waiting for the sample");
  const heldReply = await held;
  assert.ok([204, 423].includes(heldReply.status), `taken over: ${heldReply.status}`);
  assert.ok(await h.store.get(other), "the upload was not discarded");
});
