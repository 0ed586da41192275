import assert from "node:assert/strict";
import { defaultConfig } from "../config/config.ts";
import { createHandler } from "./handler.ts";
import { createLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { MemoryStore } from "../store/memory_store.ts";

const ORIGIN = "http://ops.test";

function setup(ready = true) {
  const metrics = new Metrics();
  const lines: string[] = [];
  const handler = createHandler({
    config: defaultConfig(),
    store: new MemoryStore(),
    metrics,
    log: createLogger("json", "info", (line) => lines.push(line)),
    readiness: () =>
      Promise.resolve(
        ready ? { ready: true, freeBytes: 5e9 } : { ready: false, reason: "disk low" },
      ),
  });
  const send = async (method: string, path: string, init: RequestInit = {}) => {
    const res = await handler(new Request(ORIGIN + path, { method, ...init }));
    return { res, text: await res.text() };
  };
  return { metrics, lines, send };
}

Deno.test("healthz is alive; readyz follows readiness; new uploads wait for it (507)", async () => {
  const up = setup(true);
  assert.equal((await up.send("GET", "/healthz")).res.status, 200);
  const ready = await up.send("GET", "/readyz");
  assert.equal(ready.res.status, 200);
  assert.equal(JSON.parse(ready.text).status, "ready");
  const down = setup(false);
  const notReady = await down.send("GET", "/readyz");
  assert.equal(notReady.res.status, 503);
  assert.match(notReady.text, /disk low/);
  const refused = await down.send("POST", "/files", {
    headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "5" },
  });
  assert.equal(refused.res.status, 507);
});

Deno.test("metrics move by the right amounts after uploads", async () => {
  const { send } = setup();
  const { res } = await send("POST", "/files", {
    headers: {
      "Tus-Resumable": "1.0.0",
      "Upload-Length": "5",
      "Content-Type": "application/offset+octet-stream",
      "Content-Length": "5",
    },
    body: "hello",
  });
  assert.equal(res.status, 201);
  const id = res.headers.get("location")!.split("/").pop()!;
  await send("DELETE", `/files/${id}`, { headers: { "Tus-Resumable": "1.0.0" } });
  const text = (await send("GET", "/metrics")).text;
  assert.match(text, /^resumable_uploads_total\{event="created"\} 1$/m);
  assert.match(text, /^resumable_uploads_total\{event="completed"\} 1$/m);
  assert.match(text, /^resumable_uploads_total\{event="terminated"\} 1$/m);
  assert.match(text, /^resumable_bytes_received_total 5$/m);
  assert.match(text, /^resumable_requests_total\{method="POST",status="201"\} 1$/m);
  assert.match(text, /^resumable_request_duration_seconds_count \d+$/m);
  assert.match(text, /^# TYPE resumable_fsync_duration_seconds histogram$/m);
});

Deno.test("each request is one JSON log line with its request id, without tokens or metadata", async () => {
  const { lines, send } = setup();
  const { res } = await send("POST", "/files", {
    headers: {
      "Tus-Resumable": "1.0.0",
      "Upload-Length": "5",
      "Upload-Metadata": `secret ${btoa("hunter2")}`,
      Authorization: "Bearer do-not-log-me",
      "X-Request-ID": "req-42",
    },
  });
  assert.equal(res.headers.get("x-request-id"), "req-42");
  const generated = await send("GET", "/healthz", { headers: { "X-Request-ID": "bad id!" } });
  assert.match(generated.res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const entries = lines.map((l) => JSON.parse(l));
  const post = entries.find((e) => e.method === "POST")!;
  assert.equal(post.message, "request");
  assert.equal(post.status, 201);
  assert.equal(post.request_id, "req-42");
  assert.match(post.upload_id, /^[0-9a-f]{32}$/);
  assert.equal(typeof post.duration_ms, "number");
  const all = lines.join("\n");
  assert.ok(!all.includes("do-not-log-me") && !all.includes(btoa("hunter2")));
});
