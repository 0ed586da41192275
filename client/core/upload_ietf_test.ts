/**
 * The upload core's IETF-draft creation against the real handler, in process: the first chunk
 * goes in the creation request, and a 104 of the right interop version makes a cut creation
 * resumable; one of another version is ignored (the creation starts over).
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../server/config/config.ts";
import { createHandler } from "../../server/http/handler.ts";
import { MemoryStore } from "../../server/store/memory_store.ts";
import { bytesSource } from "./source.ts";
import { upload, type UploadEvent } from "../upload.ts";
import type { InformationalFetch } from "./upload_core.ts";

const ENDPOINT = "http://upload.test/files";
const DATA = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);

/** A handler whose creation bodies are cut after `keep` bytes (once), reporting its 1xx. */
function cuttingServer(keep: number, rewrite104 = (h: Record<string, string>) => h) {
  const store = new MemoryStore();
  let on104: ((status: number, headers: Headers) => void) | undefined;
  const handler = createHandler({
    config: defaultConfig({ expireMs: 0 }),
    store,
    informational: (_req, status, headers) => {
      on104?.(status, new Headers(rewrite104(headers)));
      return true;
    },
  });
  let cuts = 1;
  const posts: number[] = [];
  const informationalFetch: InformationalFetch = async (url, init, onInformational) => {
    on104 = onInformational;
    const cut = cuts-- > 0;
    const whole = init.body ?? new Uint8Array();
    posts.push(whole.length);
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return cut ? controller.error(new Error("cut")) : controller.close();
        sent = true;
        controller.enqueue(cut ? whole.subarray(0, keep) : whole);
      },
    });
    const headers = { ...init.headers, "Content-Length": String(whole.length) };
    const res = await handler(
      new Request(url, { ...init, headers, body, duplex: "half" } as RequestInit),
    );
    if (cut) throw new TypeError("connection reset"); // the client never sees the answer
    return res;
  };
  const fetchFn: typeof fetch = (input, init) => handler(new Request(input, init));
  return { informationalFetch, fetch: fetchFn, posts };
}

async function run(server: ReturnType<typeof cuttingServer>) {
  const events: UploadEvent[] = [];
  const result = await upload(bytesSource(DATA), {
    endpoint: ENDPOINT,
    protocol: "ietf",
    chunkSize: 2000,
    fetch: server.fetch,
    informationalFetch: server.informationalFetch,
    retry: { retries: 3, baseMs: 1, capMs: 1 },
    onEvent: (e) => events.push(e),
  });
  return { result, events };
}

Deno.test("a creation cut mid-body resumes from the 104's Location: HEAD, then the rest", async () => {
  const server = cuttingServer(700);
  const { result, events } = await run(server);
  assert.equal(result.verified, "digest");
  const created = events.filter((e) => e.type === "created");
  assert.equal(created.length, 1, JSON.stringify(events));
  const resumed = events.find((e) => e.type === "resumed");
  assert.deepEqual(resumed, { type: "resumed", url: result.url, offset: 700 });
  assert.deepEqual(server.posts, [2000], "one creation, carrying the first chunk");
});

Deno.test("a 104 of another interop version is ignored: the cut creation starts over", async () => {
  const server = cuttingServer(700, (h) => ({ ...h, "Upload-Draft-Interop-Version": "7" }));
  const { result, events } = await run(server);
  assert.equal(result.verified, "digest");
  assert.equal(events.filter((e) => e.type === "resumed").length, 0, JSON.stringify(events));
  assert.deepEqual(server.posts, [2000, 2000], "created again");
});
