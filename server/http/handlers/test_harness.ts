/**
 * Shared plumbing for the handler-level tests (`*_test.ts` beside this file and
 * `server/http/handler_test.ts`): builds a handler around a MemoryStore and a fake clock, sends
 * `Request`s straight to it (no network) and reads every response to the end.
 */
import assert from "node:assert/strict";
import { defaultConfig, type ServerConfig } from "../../config/config.ts";
import { Progress } from "../progress.ts";
import type { Deps } from "../deps.ts";
import { createHandler } from "../handler.ts";
import { MemoryStore } from "../../store/memory_store.ts";
import type { UploadStore } from "../../store/types.ts";

export const ORIGIN = "http://up.test";
export const OCTET = "application/offset+octet-stream";
export const TUS = { "Tus-Resumable": "1.0.0" } as const;
/** A fixed start for the fake clock, so expiry dates are predictable. */
export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** A clock the test moves by hand. */
export class Clock {
  t: number;
  /** Starts at `start`; a FileStore dates writes by the real clock, so pass `Date.now()` for it. */
  constructor(start = T0) {
    this.t = start;
  }
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A response read to the end, so no test leaks a body. */
export interface Reply {
  status: number;
  headers: Headers;
  /** The response had no body at all (`null`), as HEAD, 204 and 304 responses must. */
  noBody: boolean;
  bytes: Uint8Array;
  text: string;
}

export interface Harness<S extends UploadStore = MemoryStore> {
  config: ServerConfig;
  store: S;
  clock: Clock;
  /** Unexpected failures the handler reported (its `logError`). */
  logged: unknown[];
  /** Sends one request and reads the whole response; asserts the invariants of every response. */
  send(req: Request): Promise<Reply>;
}

/** The handler's dependencies a test may swap (the rest are the handler's defaults). */
export interface HarnessOptions<S extends UploadStore> extends
  Partial<
    Pick<Deps, "locker" | "shutdown" | "usage" | "events" | "metrics" | "informational" | "peer">
  > {
  config?: Partial<ServerConfig>;
  store?: S;
  clock?: Clock;
}

/** A handler with defaults: `/files`, 24h expiry, CORS for any origin, a MemoryStore on a fake clock. */
export function harness(options?: HarnessOptions<MemoryStore>): Harness<MemoryStore>;
export function harness<S extends UploadStore>(
  options: HarnessOptions<S> & { store: S },
): Harness<S>;
export function harness(options: HarnessOptions<UploadStore> = {}): Harness<UploadStore> {
  const clock = options.clock ?? new Clock();
  const config = defaultConfig(options.config ?? {});
  const store = options.store ?? new MemoryStore(clock.now);
  const logged: unknown[] = [];
  const handle = createHandler({
    ...options,
    config,
    store,
    now: clock.now,
    progress: new Progress(clock.now),
    logError: (_message, error) => void logged.push(error),
  });
  return {
    config,
    store,
    clock,
    logged,
    async send(req: Request): Promise<Reply> {
      const label = `${req.method} ${req.url}`;
      const res = await handle(req);
      const noBody = res.body === null;
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.notEqual(
        res.status,
        500,
        `${label} answered 500: ${new TextDecoder().decode(bytes)} ${
          logged.map((e) => e instanceof Error ? e.stack : String(e)).join("\n")
        }`,
      );
      assert.equal(res.headers.get("tus-resumable"), "1.0.0", `${label}: Tus-Resumable`);
      // (A HEAD overridden to GET may carry a body at this level; the HTTP edge never sends a body to a HEAD.)
      if (req.method === "HEAD" && !req.headers.has("x-http-method-override")) {
        assert.ok(noBody && bytes.length === 0, `${label}: a HEAD response must have no body`);
      }
      return {
        status: res.status,
        headers: res.headers,
        noBody,
        bytes,
        text: new TextDecoder().decode(bytes),
      };
    },
  };
}

/** A request to `ORIGIN + path`. */
export function request(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: BodyInit | null } = {},
): Request {
  return new Request(ORIGIN + path, {
    method,
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

/** Deterministic test bytes: `n` bytes starting at character `from` of a repeating pattern. */
export function bytes(n: number, from = 0): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: n }, (_, i) => 97 + ((from + i) % 26));
}

/** base64 of a UTF-8 string, for Upload-Metadata values. */
export function b64(text: string): string {
  const data = new TextEncoder().encode(text);
  let bin = "";
  for (const b of data) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The upload id at the end of a Location URL. */
export function idOf(location: string | null): string {
  assert.ok(location, "Location is missing");
  const m = /\/files\/([0-9a-f]{32})$/.exec(location);
  assert.ok(m, `Location ${location} does not end in /files/<id>`);
  return m[1]!;
}

/** Creates an upload in the tus dialect and returns its id. */
export async function createUpload(
  h: Harness<UploadStore>,
  opts: { length?: number; metadata?: string; data?: Uint8Array<ArrayBuffer> } = {},
): Promise<string> {
  const headers: Record<string, string> = { ...TUS };
  if (opts.length === undefined) headers["Upload-Defer-Length"] = "1";
  else headers["Upload-Length"] = String(opts.length);
  if (opts.metadata !== undefined) headers["Upload-Metadata"] = opts.metadata;
  if (opts.data !== undefined) {
    headers["Content-Type"] = OCTET;
    headers["Content-Length"] = String(opts.data.length);
  }
  const res = await h.send(
    request("POST", "/files", { headers, ...(opts.data ? { body: opts.data } : {}) }),
  );
  assert.equal(res.status, 201, res.text);
  return idOf(res.headers.get("location"));
}

/** A tus PATCH with Content-Type and Content-Length set as a client would. */
export function patchRequest(
  id: string,
  offset: number | string,
  data: Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Request {
  return request("PATCH", `/files/${id}`, {
    headers: {
      ...TUS,
      "Content-Type": OCTET,
      "Content-Length": String(data.length),
      "Upload-Offset": String(offset),
      ...headers,
    },
    body: data,
  });
}

/** Everything the store holds for an upload (its offset and bytes); undefined when unknown. */
export async function stored(
  store: UploadStore,
  id: string,
): Promise<{ offset: number; length: number | undefined; data: Uint8Array } | undefined> {
  const info = await store.get(id);
  if (!info) return undefined;
  const data = new Uint8Array(
    await new Response(await store.read(id, 0, info.offset)).arrayBuffer(),
  );
  return { offset: info.offset, length: info.length, data };
}

/** Ids of every upload the store holds. */
export async function ids(store: UploadStore): Promise<string[]> {
  const out: string[] = [];
  for await (const id of store.list()) out.push(id);
  return out;
}

/** Polls `check` (yielding to the event loop between tries) until it holds or the deadline passes. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  deadlineMs = 5000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * A request body the test feeds by hand. `pulled` resolves once the server first asks for data
 * (it is then reading, and so holds the upload's lock); `cancelled` when the server gives up on it.
 */
export class ControlledBody {
  readonly stream: ReadableStream<Uint8Array>;
  readonly pulled: Promise<void>;
  readonly cancelled: Promise<void>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #open = true;

  constructor() {
    let pulled!: () => void;
    let cancelled!: () => void;
    this.pulled = new Promise((resolve) => pulled = resolve);
    this.cancelled = new Promise((resolve) => cancelled = resolve);
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => pulled(),
      cancel: () => {
        this.#open = false;
        cancelled();
      },
    }, { highWaterMark: 0 });
  }

  push(data: Uint8Array): void {
    this.#controller.enqueue(data);
  }

  close(): void {
    if (this.#open) this.#controller.close();
    this.#open = false;
  }

  fail(error: Error): void {
    if (this.#open) this.#controller.error(error);
    this.#open = false;
  }
}

/** A tus PATCH whose body the test feeds by hand (no Content-Length), already sent. */
export interface StreamedPatch {
  body: ControlledBody;
  /** The handler's answer, once it gives one. */
  reply: Promise<Reply>;
  /** Pushes `data` and waits until the store holds the upload at `offset`. */
  feed(data: Uint8Array, offset: number): Promise<void>;
}

/** Sends a tus PATCH at `offset` to upload `id` with a body fed by hand. */
export function streamPatch(
  h: Harness<UploadStore>,
  id: string,
  { offset = 0, headers = {} }: { offset?: number; headers?: Record<string, string> } = {},
): StreamedPatch {
  const body = new ControlledBody();
  const reply = h.send(request("PATCH", `/files/${id}`, {
    headers: { ...TUS, "Content-Type": OCTET, "Upload-Offset": String(offset), ...headers },
    body: body.stream,
  }));
  return {
    body,
    reply,
    async feed(data, at) {
      body.push(data);
      await until(`${at} bytes stored`, async () => (await h.store.get(id))?.offset === at);
    },
  };
}

/** Asserts a tus-dialect error: the status, a text body, never JSON. */
export function assertTusError(res: Reply, status: number, why = ""): void {
  assert.equal(res.status, status, `${why} ${res.text}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/, why);
  assert.ok(res.text.trim().length > 0, `${why}: the error has a message`);
  assert.ok(!res.text.trimStart().startsWith("{"), `${why}: tus errors are text, not JSON`);
}

/** Asserts a plain-dialect error: the status and a JSON body `{"error":{"code","message"}}`. */
export function assertPlainError(res: Reply, status: number, why = ""): void {
  assert.equal(res.status, status, `${why} ${res.text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, why);
  const body = JSON.parse(res.text);
  assert.deepEqual(Object.keys(body), ["error"], why);
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message"], why);
  assert.equal(typeof body.error.code, "string", why);
  assert.ok(body.error.code.length > 0, why);
  assert.equal(typeof body.error.message, "string", why);
  assert.ok(body.error.message.length > 0, why);
}

/** The comma-separated tokens of a header, trimmed. */
export function tokens(value: string | null): string[] {
  return (value ?? "").split(",").map((t) => t.trim()).filter(Boolean);
}
