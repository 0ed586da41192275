import assert from "node:assert/strict";
import { defaultConfig } from "../config/config.ts";
import { createHandler } from "./handler.ts";
import { createLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { MemoryStore } from "../store/memory_store.ts";
import type { ServerConfig } from "../config/config.ts";

const ORIGIN = "http://log.test";
const TUS = { "Tus-Resumable": "1.0.0" };

function setup(config: Partial<ServerConfig> = {}) {
  const metrics = new Metrics();
  const lines: Record<string, unknown>[] = [];
  const handler = createHandler({
    config: defaultConfig(config),
    store: new MemoryStore(),
    metrics,
    log: createLogger("json", "info", (line) => lines.push(JSON.parse(line))),
    peer: () => "192.0.2.7",
  });
  const requestLines = () => lines.filter((l) => l.message === "request");
  return { metrics, handler, requestLines };
}

async function completeUpload(handler: (req: Request) => Promise<Response>, bytes: string) {
  const created = await handler(
    new Request(`${ORIGIN}/files`, {
      method: "POST",
      headers: { ...TUS, "Upload-Length": String(bytes.length) },
    }),
  );
  await created.body?.cancel();
  assert.equal(created.status, 201);
  const url = new URL(created.headers.get("location")!, ORIGIN).href;
  const patched = await handler(
    new Request(url, {
      method: "PATCH",
      headers: {
        ...TUS,
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": String(bytes.length),
      },
      body: bytes,
    }),
  );
  await patched.body?.cancel();
  assert.equal(patched.status, 204);
  return url;
}

Deno.test("a request line is written once its answer is sent, with the bytes sent, client and user agent", async () => {
  const { metrics, handler, requestLines } = setup();
  const url = await completeUpload(handler, "hello world");
  const res = await handler(new Request(url, { headers: { "User-Agent": "x".repeat(300) } }));
  const get = () => requestLines().find((l) => l.method === "GET");
  assert.equal(get(), undefined, "not before the body is sent");
  assert.equal(await res.text(), "hello world");
  const line = get()!;
  assert.equal(line.status, 200);
  assert.equal(line.bytes_sent, 11);
  assert.equal(line.client, "192.0.2.7");
  assert.equal(line.user_agent, "x".repeat(200));
  assert.equal(line.forwarded_for, undefined, "X-Forwarded-For is not trusted by default");
  const earlier = requestLines().filter((l) => l.method !== "GET");
  assert.equal(
    metrics.bytesSent.value(),
    11 + earlier.reduce((n, l) => n + (l.bytes_sent as number), 0),
  );
  assert.equal(metrics.requests.value({ method: "GET", status: "200" }), 1);
});

Deno.test("an answer the client never takes (connection closed) is logged and counted as 499", async () => {
  const { metrics, handler, requestLines } = setup();
  const url = await completeUpload(handler, "hello world");
  const res = await handler(new Request(url));
  await res.body!.cancel();
  const line = requestLines().find((l) => l.method === "GET")!;
  assert.equal(line.status, 499);
  assert.equal(line.bytes_sent, 0);
  assert.equal(metrics.requests.value({ method: "GET", status: "499" }), 1);
  assert.equal(metrics.requests.value({ method: "GET", status: "200" }), 0);
});

Deno.test("HEAD and bodiless answers are logged at once; behind a proxy the forwarded client too", async () => {
  const { handler, requestLines } = setup({ behindProxy: true });
  const url = await completeUpload(handler, "abc");
  const res = await handler(
    new Request(url, {
      method: "HEAD",
      headers: { ...TUS, "X-Forwarded-For": "203.0.113.9, 10.0.0.1" },
    }),
  );
  assert.equal(res.status, 200);
  const line = requestLines().find((l) => l.method === "HEAD")!;
  assert.equal(line.forwarded_for, "203.0.113.9");
  assert.equal(line.client, "192.0.2.7");
  assert.equal(line.bytes_sent, 0);
});
