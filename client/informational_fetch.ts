/**
 * A `fetch` that also reports informational (1xx) responses — the IETF draft's
 * `104 (Upload Resumption Supported)` — which the fetch standard hides. Built on node:http(s),
 * whose client request emits them; Deno only (a browser's fetch never shows a 1xx). node:http is
 * imported on the first such request: it adds megabytes to a client that never makes one.
 */
import type { IncomingMessage } from "node:http";
import type { InformationalFetch } from "./core/upload_core.ts";

export const fetchWithInformational: InformationalFetch = async (url, init, onInformational) => {
  const target = new URL(url);
  const { request: send } = target.protocol === "https:"
    ? await import("node:https")
    : await import("node:http");
  const headers: Record<string, string> = { ...init.headers };
  if (init.body) headers["Content-Length"] = String(init.body.length);
  return await new Promise<Response>((resolve, reject) => {
    init.signal?.throwIfAborted();
    const req = send(target, { method: init.method, headers });
    const abort = () => req.destroy(init.signal?.reason);
    init.signal?.addEventListener("abort", abort, { once: true });
    const done = () => init.signal?.removeEventListener("abort", abort);
    req.on("information", (info: { statusCode: number; rawHeaders: string[] }) => {
      onInformational(info.statusCode, headersOf(info.rawHeaders));
    });
    req.on("response", (res: IncomingMessage) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      res.on("error", (error) => {
        done();
        reject(new TypeError(`Response failed: ${error.message}`, { cause: error }));
      });
      res.on("end", () => {
        done();
        const status = res.statusCode ?? 0;
        const bodyless = status === 204 || status === 304 || init.method === "HEAD";
        resolve(
          new Response(bodyless ? null : new Blob(chunks as BlobPart[]), {
            status,
            statusText: res.statusMessage ?? "",
            headers: headersOf(res.rawHeaders),
          }),
        );
      });
    });
    req.on("error", (error: Error) => {
      done();
      reject(new TypeError(`${init.method} ${url} failed: ${error.message}`, { cause: error }));
    });
    req.end(init.body);
  });
};

function headersOf(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}
