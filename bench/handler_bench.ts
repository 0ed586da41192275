/**
 * Per-request overhead of the whole handler (routing, header checks, CORS, the store call) with a
 * MemoryStore, no network: OPTIONS, HEAD, a small PATCH, and creation. The baseline is the least
 * any handler does: build a `new Response`. Run: deno task bench.
 *
 * Every `fn` here is declared `async`: `deno bench` awaits only async functions, so an arrow that
 * merely returns a promise would be run concurrently with itself (and the HEADs would fight over
 * the upload's lock).
 */
import { defaultConfig } from "../server/config/config.ts";
import { createHandler } from "../server/http/handler.ts";
import { MemoryStore } from "../server/store/memory_store.ts";

const ORIGIN = "http://bench.test";
const TUS = { "Tus-Resumable": "1.0.0" };
const OCTET = "application/offset+octet-stream";
const SMALL = 4096;
const payload = crypto.getRandomValues(new Uint8Array(SMALL));

const handle = createHandler({
  config: defaultConfig({ expireMs: 0 }),
  store: new MemoryStore(),
  logError: (message, error) => console.error(message, error),
});

async function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: BodyInit,
) {
  const res = await handle(new Request(ORIGIN + path, { method, headers, body: body ?? null }));
  await res.body?.cancel();
  return res;
}

async function create(length: number): Promise<string> {
  const res = await send("POST", "/files", { ...TUS, "Upload-Length": String(length) });
  const location = res.headers.get("location");
  if (res.status !== 201 || location === null) throw new Error(`POST answered ${res.status}`);
  return new URL(location, ORIGIN).pathname;
}

async function expect(res: Promise<Response>, status: number): Promise<void> {
  const got = (await res).status;
  if (got !== status) throw new Error(`expected ${status}, got ${got}`);
}

const headPath = await create(SMALL);
const GROUP = "handler per request";

Deno.bench({
  name: "new Response (baseline)",
  group: GROUP,
  baseline: true,
  async fn() {
    const res = new Response(null, { status: 204, headers: { "Tus-Resumable": "1.0.0" } });
    await res.body?.cancel();
  },
});
Deno.bench({
  name: "OPTIONS /files",
  group: GROUP,
  async fn() {
    await expect(send("OPTIONS", "/files", TUS), 204);
  },
});
Deno.bench({
  name: "HEAD /files/{id}",
  group: GROUP,
  async fn() {
    await expect(send("HEAD", headPath, TUS), 200);
  },
});
Deno.bench({
  name: `PATCH ${SMALL / 1024} KiB (fresh upload each time, created untimed)`,
  group: GROUP,
  async fn(b) {
    const path = await create(SMALL);
    const headers = { ...TUS, "Upload-Offset": "0", "Content-Type": OCTET };
    b.start();
    const res = await send("PATCH", path, headers, payload);
    b.end();
    if (res.status !== 204 || res.headers.get("upload-offset") !== String(SMALL)) {
      throw new Error(`PATCH answered ${res.status}, offset ${res.headers.get("upload-offset")}`);
    }
    await expect(send("DELETE", path, TUS), 204);
  },
});
Deno.bench({
  name: "POST /files (creation, then DELETE untimed)",
  group: GROUP,
  async fn(b) {
    b.start();
    const path = await create(SMALL);
    b.end();
    await expect(send("DELETE", path, TUS), 204);
  },
});
Deno.bench({
  name: `POST /files with ${SMALL / 1024} KiB (creation-with-upload, then DELETE untimed)`,
  group: GROUP,
  async fn(b) {
    // The server reads a POST body only when the wire announced one (Content-Length here).
    const headers = {
      ...TUS,
      "Upload-Length": String(SMALL),
      "Content-Type": OCTET,
      "Content-Length": String(SMALL),
    };
    b.start();
    const res = await send("POST", "/files", headers, payload);
    b.end();
    const location = res.headers.get("location");
    if (
      res.status !== 201 || location === null || res.headers.get("upload-offset") !== String(SMALL)
    ) throw new Error(`POST answered ${res.status}, offset ${res.headers.get("upload-offset")}`);
    await expect(send("DELETE", new URL(location, ORIGIN).pathname, TUS), 204);
  },
});
