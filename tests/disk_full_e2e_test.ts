/**
 * Disk full: a write that hits ENOSPC answers 507, the acknowledged offset stays exactly
 * the bytes in the data file (a correct prefix of the source; nothing of the failed write is
 * counted), the server keeps serving, and once space is freed the upload continues from HEAD's
 * offset to the right MD5.
 *
 * Where the environment allows (root, mount permitted) the server process runs with `--dir` on a
 * real 24 MiB tmpfs: a 12 MiB filler upload leaves too little room for a 20 MiB one, and deleting
 * the filler makes room for the rest. Otherwise (or with RESUMABLE_TEST_DISK_WRAPPER=1) the same
 * scenario runs against an in-process server whose store wraps FileStore and fails appends with
 * ENOSPC past a byte budget. The test prints which one ran.
 */

import assert from "node:assert/strict";
import { defaultConfig } from "../server/config/config.ts";
import { createHandler } from "../server/http/handler.ts";
import { requestTrailers, serveHttp } from "../server/http_node.ts";
import { FileStore } from "../server/store/file/file_store.ts";
import type { AppendOutcome, NewUpload, UploadInfo, UploadStore } from "../server/store/types.ts";
import type { Digests } from "../lib/digest_header.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { mountTmpfs } from "./helpers/tmpfs.ts";
import { listFiles, md5, offsetOf, randomBytes } from "./helpers/uploads.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const OCTETS = "application/offset+octet-stream";
/** The filesystem: room for the 20 MiB upload only once the 12 MiB filler is gone. */
const CAPACITY = 24 * MiB;
const FILLER = 12 * MiB;
const BIG = 20 * MiB;
const CHUNK = 2 * MiB;

/** Where the uploads go, and the server writing them. */
interface Target extends AsyncDisposable {
  kind: "tmpfs" | "wrapper";
  /** The upload collection URL. */
  url: string;
  origin: string;
  /** The data directory. */
  dir: string;
  /** What the server logged (stderr, or the in-process error log). */
  log(): string;
  /** Still serving (the process has not exited). */
  alive(): boolean;
}

function dataPath(dir: string, id: string): string {
  return `${dir}/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
}

/** The real server on a fresh tmpfs of CAPACITY bytes, or undefined if mounting is not allowed. */
async function onTmpfs(): Promise<Target | undefined> {
  const fs = await mountTmpfs(CAPACITY);
  if (!fs) return undefined;
  let server: TestServer;
  try {
    // --min-free 0: a 24 MiB filesystem is "full" by the default 1 GiB readiness threshold.
    server = await startServer({ args: ["--dir", fs.dir, "--min-free", "0"] });
  } catch (error) {
    await fs[Symbol.asyncDispose]();
    throw error;
  }
  return {
    kind: "tmpfs",
    url: server.url,
    origin: server.origin,
    dir: fs.dir,
    log: () => server.stderr,
    alive: () => !server.exited,
    async [Symbol.asyncDispose]() {
      try {
        await server[Symbol.asyncDispose]();
      } finally {
        await fs[Symbol.asyncDispose]();
      }
    },
  };
}

/**
 * A FileStore on a pretend disk of `capacity` bytes: an append that would go past it stores what
 * fits (durably) and then fails as Deno reports a full disk (`code: "ENOSPC"`).
 */
class FullDiskStore implements UploadStore {
  readonly #inner: FileStore;
  readonly #capacity: number;

  constructor(inner: FileStore, capacity: number) {
    this.#inner = inner;
    this.#capacity = capacity;
  }

  async #used(): Promise<number> {
    let used = 0;
    for (const file of await listFiles(this.#inner.dir)) {
      used += (await Deno.stat(`${this.#inner.dir}/${file}`).catch(() => ({ size: 0 }))).size;
    }
    return used;
  }

  async append(
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<AppendOutcome> {
    if (!body) return await this.#inner.append(id, offset, body);
    // Whole 64 KiB pieces only, like a filesystem that refuses the write that doesn't fit.
    const free = Math.floor(Math.max(0, this.#capacity - (await this.#used())) / (64 * KiB)) *
      64 * KiB;
    let passed = 0;
    let full = false;
    const reader = body.getReader();
    const limited = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await reader.read();
        if (next.done) return controller.close();
        const room = free - passed;
        if (next.value.length > room) {
          full = true;
          if (room > 0) controller.enqueue(next.value.subarray(0, room));
          passed = free;
          controller.close();
          await reader.cancel().catch(() => {});
          return;
        }
        passed += next.value.length;
        controller.enqueue(next.value);
      },
      async cancel(reason) {
        await reader.cancel(reason).catch(() => {});
      },
    });
    const result = await this.#inner.append(id, offset, limited);
    if (full) {
      throw Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
    }
    return result;
  }

  create(upload: NewUpload): Promise<UploadInfo> {
    return this.#inner.create(upload);
  }
  get(id: string): Promise<UploadInfo | undefined> {
    return this.#inner.get(id);
  }
  finish(id: string): Promise<Digests> {
    return this.#inner.finish(id);
  }
  declareLength(id: string, length: number): Promise<void> {
    return this.#inner.declareLength(id, length);
  }
  addFinal(partId: string, finalId: string): Promise<void> {
    return this.#inner.addFinal(partId, finalId);
  }
  assemble(finalId: string, parts: { id: string; length: number }[]): Promise<number> {
    return this.#inner.assemble(finalId, parts);
  }
  remove(id: string): Promise<boolean> {
    return this.#inner.remove(id);
  }
  read(id: string, start: number, end: number): Promise<ReadableStream<Uint8Array>> {
    return this.#inner.read(id, start, end);
  }
  list(): AsyncIterable<string> {
    return this.#inner.list();
  }
}

/** The handler and HTTP edge in this process, over a FullDiskStore. */
async function withWrapper(): Promise<Target> {
  const dir = await Deno.makeTempDir({ prefix: "resumable-diskfull-" });
  const config = defaultConfig({ host: "127.0.0.1", port: 0, dir });
  const store = new FullDiskStore(await FileStore.open(dir), CAPACITY);
  let log = "";
  const logError = (message: string, error: unknown) => {
    log += `${JSON.stringify({ level: "error", message, error: String(error) })}\n`;
  };
  const stopping = new AbortController();
  const handler = createHandler({
    config,
    store,
    shutdown: stopping.signal,
    logError,
    trailers: requestTrailers,
  });
  const http = await serveHttp(
    { hostname: config.host, port: 0, headersTimeoutMs: config.idleTimeoutMs },
    handler,
    logError,
  );
  const origin = `http://127.0.0.1:${http.port}`;
  return {
    kind: "wrapper",
    url: `${origin}${config.basePath}`,
    origin,
    dir,
    log: () => log,
    alive: () => true,
    async [Symbol.asyncDispose]() {
      stopping.abort();
      try {
        await http.shutdown(1000);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

async function smallDisk(): Promise<Target> {
  if (Deno.env.get("RESUMABLE_TEST_DISK_WRAPPER") !== "1") {
    const target = await onTmpfs();
    if (target) {
      console.log(`disk-full test: tmpfs (${CAPACITY / MiB} MiB, real ENOSPC)`);
      return target;
    }
    console.log("disk-full test: wrapper (mount not permitted)");
  } else {
    console.log("disk-full test: wrapper (RESUMABLE_TEST_DISK_WRAPPER=1)");
  }
  return await withWrapper();
}

// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function call(
  target: Target,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Uint8Array<ArrayBuffer>,
): Promise<Answer> {
  const res = await fetch(target.origin + path, {
    method,
    headers: { "Tus-Resumable": "1.0.0", ...headers },
    ...(body ? { body } : {}),
  });
  const text = method === "HEAD" ? (await res.body?.cancel(), "") : await res.text();
  return { status: res.status, headers: res.headers, text };
}

async function create(target: Target, length: number): Promise<{ id: string; path: string }> {
  const res = await call(target, "POST", new URL(target.url).pathname, {
    "Upload-Length": String(length),
  });
  assert.equal(res.status, 201, res.text);
  const path = new URL(res.headers.get("location")!).pathname;
  return { id: path.split("/").pop()!, path };
}

async function patchAt(
  target: Target,
  path: string,
  offset: number,
  body: Uint8Array<ArrayBuffer>,
): Promise<Answer> {
  return await call(target, "PATCH", path, {
    "Content-Type": OCTETS,
    "Upload-Offset": String(offset),
  }, body);
}

/** PATCHes `source[from, to)` in CHUNK pieces; returns the last answer and the offset reached. */
async function upload(
  target: Target,
  path: string,
  source: Uint8Array<ArrayBuffer>,
  from: number,
  to = source.length,
): Promise<{ last: Answer; acked: number }> {
  let acked = from;
  let last: Answer | undefined;
  while (acked < to) {
    last = await patchAt(target, path, acked, source.slice(acked, Math.min(acked + CHUNK, to)));
    if (last.status !== 204) break;
    const offset = offsetOf(last.headers)!;
    assert.ok(offset > acked, `204 without progress at ${acked}`);
    acked = offset;
  }
  return { last: last!, acked };
}

/** HEAD's offset, asserted equal to the data file's size and the file a prefix of `source`. */
async function assertDurablePrefix(
  target: Target,
  upload: { id: string; path: string },
  source: Uint8Array,
  what: string,
): Promise<number> {
  const head = await call(target, "HEAD", upload.path);
  assert.equal(head.status, 200, `${what}: HEAD`);
  const offset = offsetOf(head.headers);
  assert.ok(offset !== undefined, `${what}: HEAD without Upload-Offset`);
  const stored = await Deno.readFile(dataPath(target.dir, upload.id));
  assert.equal(stored.length, offset, `${what}: HEAD's offset vs the data file's size`);
  assert.equal(md5(stored), md5(source.subarray(0, offset)), `${what}: stored bytes`);
  return offset;
}

function reprMd5(headers: Headers): string | undefined {
  const m = /md5=:([A-Za-z0-9+/=]+):/.exec(headers.get("repr-digest") ?? "");
  if (!m) return undefined;
  return Array.from(atob(m[1]!), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

Deno.test(
  "disk full: 507, the offset stays the durable bytes, the server keeps serving, and the upload completes once space is freed",
  async () => {
    await using target = await smallDisk();
    const options = await call(target, "OPTIONS", new URL(target.url).pathname);
    assert.equal(options.status, 204);

    // Fill half the disk.
    const fillerSource = randomBytes(FILLER, 501);
    const filler = await create(target, FILLER);
    const filled = await upload(target, filler.path, fillerSource, 0);
    assert.equal(filled.acked, FILLER, `the filler: ${filled.last.status} ${filled.last.text}`);

    // The big upload runs into the full disk.
    const source = randomBytes(BIG, 502);
    const big = await create(target, BIG);
    const first = await upload(target, big.path, source, 0);
    assert.equal(
      first.last.status,
      507,
      `expected 507 once the disk is full; got ${first.last.status} ${first.last.text} ` +
        `at ${first.acked} of ${BIG}`,
    );
    assert.match(first.last.text, /full|space|storage/i, "the 507 says why");
    assert.ok(first.acked > 0 && first.acked < BIG, `acknowledged ${first.acked}`);
    const offset = await assertDurablePrefix(target, big, source, "after the 507");
    console.log(
      `507 after ${first.acked} acknowledged bytes; HEAD offset ${offset} = data file size`,
    );
    assert.ok(offset >= first.acked, `HEAD ${offset} lost acknowledged bytes (${first.acked})`);
    assert.ok(offset < first.acked + CHUNK, `HEAD ${offset} counts more than the failed chunk`);
    // Nothing beside the data: no staging files left by the failed write.
    const files = await listFiles(target.dir);
    assert.deepEqual(
      files.filter((f) => !/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{32}(\.info)?$/.test(f)),
      [],
      "leftover files after the failed write",
    );

    // Still full: the same PATCH fails the same way and changes nothing.
    const again = await patchAt(target, big.path, offset, source.slice(offset, offset + CHUNK));
    assert.equal(again.status, 507, `${again.status} ${again.text}`);
    assert.equal(await assertDurablePrefix(target, big, source, "after a second 507"), offset);

    // The server keeps serving.
    assert.equal((await call(target, "OPTIONS", new URL(target.url).pathname)).status, 204);
    const headFiller = await call(target, "HEAD", filler.path);
    assert.equal(offsetOf(headFiller.headers), FILLER);
    const got = await fetch(target.origin + filler.path);
    assert.equal(got.status, 200);
    assert.equal(md5(new Uint8Array(await got.arrayBuffer())), md5(fillerSource));

    // Free space; a small upload works.
    assert.equal((await call(target, "DELETE", filler.path)).status, 204);
    const smallSource = randomBytes(100 * KiB, 503);
    const small = await create(target, smallSource.length);
    const smallDone = await upload(target, small.path, smallSource, 0);
    assert.equal(smallDone.acked, smallSource.length, `${smallDone.last.status}`);
    assert.equal(md5(await Deno.readFile(dataPath(target.dir, small.id))), md5(smallSource));

    // The big upload continues from HEAD's offset to the end.
    const rest = await upload(target, big.path, source, offset);
    assert.equal(rest.last.status, 204, `${rest.last.status} ${rest.last.text}`);
    assert.equal(rest.acked, BIG);
    assert.equal(reprMd5(rest.last.headers), md5(source), "Repr-Digest of the completed upload");
    assert.equal(await assertDurablePrefix(target, big, source, "completed"), BIG);
    const download = await fetch(target.origin + big.path);
    assert.equal(download.status, 200);
    assert.equal(md5(new Uint8Array(await download.arrayBuffer())), md5(source));

    assert.ok(target.alive(), "the server died");
    assert.doesNotMatch(target.log(), /response failed|Uncaught/);
    assert.match(target.log(), /No space left|ENOSPC/, "the cause of the 507 is logged");
  },
);
