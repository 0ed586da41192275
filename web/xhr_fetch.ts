/**
 * How the page sends a chunk and sees it go: XMLHttpRequest, whose `upload.onprogress` counts the
 * bytes of a request body as they leave, which a browser's fetch can't do over HTTP/1.1 (it can't
 * stream a request body there). Given to the upload core as its `progressFetch`; the core's
 * deadlines and the Pause button end the request through `init.signal`, which aborts the XHR.
 */
import type { ProgressFetch } from "../client/core/upload_options.ts";

/** Statuses whose response has no body (a Response with one would throw). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A `ProgressFetch` over `Xhr`: the browser's XMLHttpRequest, or a stand-in in tests. */
export function xhrFetch(Xhr: new () => XMLHttpRequest = XMLHttpRequest): ProgressFetch {
  return (url, init, onSent) =>
    new Promise<Response>((resolve, reject) => {
      const { signal, body } = init;
      if (signal?.aborted) return reject(signal.reason);
      const xhr = new Xhr();
      let settled = false;
      const settle = (end: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        end();
      };
      const onAbort = () => {
        settle(() => reject(signal!.reason));
        xhr.abort();
      };
      xhr.open(init.method, url);
      xhr.responseType = "arraybuffer";
      for (const [name, value] of Object.entries(init.headers)) xhr.setRequestHeader(name, value);
      // Nothing is reported once the request has ended: its bytes no longer count.
      xhr.upload.onprogress = (event) => {
        if (!settled) onSent(Math.min(event.loaded, body.length));
      };
      xhr.onload = () =>
        settle(() => {
          try {
            resolve(responseOf(xhr));
          } catch (error) {
            reject(error);
          }
        });
      // As a browser's fetch does: no reason given (`networkWords` says so).
      xhr.onerror = () => settle(() => reject(new TypeError("Failed to fetch")));
      xhr.onabort = () =>
        settle(() => reject(new DOMException("The request was aborted", "AbortError")));
      signal?.addEventListener("abort", onAbort, { once: true });
      xhr.send(body);
    });
}

/** The finished XHR as the Response a fetch would have given. */
function responseOf(xhr: XMLHttpRequest): Response {
  const status = xhr.status;
  return new Response(NULL_BODY.has(status) ? null : xhr.response as ArrayBuffer | null, {
    status,
    statusText: xhr.statusText,
    headers: parseHeaders(xhr.getAllResponseHeaders()),
  });
}

/** `getAllResponseHeaders()` text ("name: value" lines) as Headers. */
export function parseHeaders(text: string): Headers {
  const headers = new Headers();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch { /* a header Headers won't hold: fetch would not show it either */ }
  }
  return headers;
}
