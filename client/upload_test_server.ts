/**
 * The real request handler in process, as a `fetch` for the upload core (fetch → handler,
 * MemoryStore), with a log of requests and a hook to answer (or fail) some of them instead.
 */
import { createHash } from "node:crypto";
import { defaultConfig, type ServerConfig } from "../server/config/config.ts";
import { createHandler } from "../server/http/handler.ts";
import { MemoryStore } from "../server/store/memory_store.ts";
import type { UploadOptions } from "./upload.ts";

export const ENDPOINT = "http://upload.test/files";

export function data(n: number, seed = 1): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 131 + seed * 17 + (i >> 8)) & 0xff);
}

export function md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** A server in process, plus a log of requests and the body bytes it was sent. */
export function server(config: Partial<ServerConfig> = {}) {
  const store = new MemoryStore();
  const handler = createHandler({ config: defaultConfig({ expireMs: 0, ...config }), store });
  const log: { method: string; status: number; bodyBytes: number }[] = [];
  let intercept: ((req: Request, n: number) => Response | undefined) | undefined;
  const fetchFn: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
    const replay = new Request(req.url, { method: req.method, headers: req.headers, body });
    const early = intercept?.(replay, log.length);
    if (early) {
      log.push({ method: req.method, status: early.status, bodyBytes: 0 });
      return early;
    }
    const res = await handler(replay);
    log.push({ method: req.method, status: res.status, bodyBytes: body?.length ?? 0 });
    return res;
  };
  return {
    store,
    log,
    fetch: fetchFn,
    intercept(fn: typeof intercept) {
      intercept = fn;
    },
    async stored(url: string): Promise<Uint8Array> {
      const id = url.slice(url.lastIndexOf("/") + 1);
      const info = await store.get(id);
      return new Uint8Array(
        await new Response(await store.read(id, 0, info!.offset)).arrayBuffer(),
      );
    },
  };
}

export function options(
  s: ReturnType<typeof server>,
  extra: Partial<UploadOptions> = {},
): UploadOptions {
  return { endpoint: ENDPOINT, fetch: s.fetch, sleep: () => Promise.resolve(), ...extra };
}
