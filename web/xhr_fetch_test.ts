import assert from "node:assert/strict";
import { fetchWithin } from "../client/core/deadline.ts";
import { networkWords } from "../client/core/network_error.ts";
import { UploadError } from "../lib/errors.ts";
import { parseHeaders, xhrFetch } from "./xhr_fetch.ts";

/** A stand-in for XMLHttpRequest: records what the adapter does; the test plays the network. */
class FakeXhr {
  static last: FakeXhr | undefined;
  method = "";
  url = "";
  responseType = "";
  headers: Record<string, string> = {};
  sent: Uint8Array | undefined;
  aborted = false;
  status = 0;
  statusText = "";
  response: ArrayBuffer | null = null;
  rawHeaders = "";
  upload: { onprogress: ((event: { loaded: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getAllResponseHeaders() {
    return this.rawHeaders;
  }
  send(body: Uint8Array) {
    this.sent = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.(); // as a browser does, at once
  }
  /** The server's answer arrives. */
  answer(status: number, rawHeaders: string, text = "") {
    this.status = status;
    this.rawHeaders = rawHeaders;
    this.response = new TextEncoder().encode(text).buffer;
    this.onload?.();
  }
}

const send = xhrFetch(FakeXhr as unknown as typeof XMLHttpRequest);
const body = new Uint8Array(1000);
const init = (signal?: AbortSignal) => ({
  method: "PATCH",
  headers: { "Upload-Offset": "0", "Tus-Resumable": "1.0.0" },
  body,
  ...(signal ? { signal } : {}),
});

Deno.test("xhrFetch sends the request, reports the body's bytes as they go, answers as fetch would", async () => {
  const seen: number[] = [];
  const pending = send("http://u.test/files/1", init(), (n) => seen.push(n));
  const xhr = FakeXhr.last!;
  assert.equal(xhr.method, "PATCH");
  assert.equal(xhr.url, "http://u.test/files/1");
  assert.equal(xhr.responseType, "arraybuffer");
  assert.deepEqual(xhr.headers, { "Upload-Offset": "0", "Tus-Resumable": "1.0.0" });
  assert.equal(xhr.sent, body);
  for (const loaded of [300, 1000, 1200]) xhr.upload.onprogress!({ loaded });
  xhr.answer(204, "upload-offset: 1000\r\ntus-resumable: 1.0.0\r\n");
  xhr.upload.onprogress!({ loaded: 1000 }); // after the end: not reported
  const res = await pending;
  assert.deepEqual(seen, [300, 1000, 1000], "never more than the body");
  assert.equal(res.status, 204);
  assert.equal(res.body, null);
  assert.equal(res.headers.get("Upload-Offset"), "1000");

  const failed = send("http://u.test/files/1", init(), () => {});
  FakeXhr.last!.answer(409, "content-type: application/json\r\n", '{"error":{"message":"no"}}');
  const conflict = await failed;
  assert.equal(conflict.ok, false);
  assert.equal(await conflict.text(), '{"error":{"message":"no"}}');
});

Deno.test("xhrFetch aborts the XHR when the signal aborts, and rejects with its reason", async () => {
  const controller = new AbortController();
  const seen: number[] = [];
  const pending = send("http://u.test/files/1", init(controller.signal), (n) => seen.push(n));
  const xhr = FakeXhr.last!;
  xhr.upload.onprogress!({ loaded: 10 });
  const reason = new Error("paused");
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  assert.equal(xhr.aborted, true);
  xhr.upload.onprogress!({ loaded: 20 });
  assert.deepEqual(seen, [10]);

  // Aborted before it started: nothing is sent.
  FakeXhr.last = undefined;
  await assert.rejects(send("http://u.test/x", init(AbortSignal.abort(reason)), () => {}));
  assert.equal(FakeXhr.last, undefined);
});

Deno.test("a stalled XHR is cut by the core's deadline", async () => {
  // fetchWithin hands its own signal to the fetch it wraps, as `send` in client/core/link.ts does.
  const pending = fetchWithin(
    (input, options) => send(String(input), { ...init(), signal: options!.signal! }, () => {}),
    "http://u.test/files/1",
    { method: "PATCH", body },
    { responseMs: 20, stallMs: 20 },
  );
  await assert.rejects(pending, (e) => e instanceof UploadError && e.code === "timeout");
  assert.equal(FakeXhr.last!.aborted, true);
});

Deno.test("a failed XHR is a network failure the core puts in words", async () => {
  const pending = send("http://u.test/files/1", init(), () => {});
  FakeXhr.last!.onerror!();
  const error = await pending.catch((e) => e);
  assert.ok(error instanceof TypeError);
  assert.equal(
    networkWords(error, "http://u.test/files/1"),
    "could not reach http://u.test (the browser gives no reason)",
  );
});

Deno.test("parseHeaders reads getAllResponseHeaders() text, skipping what is not a header", () => {
  const headers = parseHeaders("location: /files/a\r\nx-note: a: b\r\n\r\nbroken line\r\n");
  assert.equal(headers.get("Location"), "/files/a");
  assert.equal(headers.get("x-note"), "a: b");
  assert.deepEqual([...headers.keys()], ["location", "x-note"]);
});
