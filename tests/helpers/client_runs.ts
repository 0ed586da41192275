/**
 * Running the client CLI against a real server and reading what it did: output, traffic, files.
 *
 *     await using fx = await ClientFixture.start();     // a server on --port 0, a temp dir
 *     const recorder = fx.record();                     // optional: the client goes through it
 *     const source = await fx.generate("big.bin", 32 * MiB, 1);
 *     const command = fx.upload(source.path, "--json");
 *     const { id } = await fx.crash(command, "0.5");    // SIGKILLed half-way
 *     const second = await fx.complete(command);        // the same command again, to exit 0
 *     await fx.assertStored(id, source.md5);
 */
import assert from "node:assert/strict";
import {
  assertExit,
  assertKilled,
  type ClientRun,
  describeRun,
  type Digests,
  digestsOf,
  eventsOf,
  idOf,
  only,
  runClient,
  tempDir,
} from "./client_cli.ts";
import { HttpRecorder, type RecordedRequest, type RecorderOptions } from "./http_recorder.ts";
import { type ServerOptions, startServer, type TestServer } from "./server.ts";
import { type ProxyOptions, TcpProxy } from "./tcp_proxy.ts";
import { fileSize, head } from "./uploads.ts";

export const MiB = 1024 * 1024;
const CLIENT_TIMEOUT_MS = 60_000;
export const client = (args: string[], timeoutMs = CLIENT_TIMEOUT_MS) => runClient(args, timeoutMs);
const UPLOADED =
  /^uploaded (.+)\nURL (\S+)\nMD5 ([0-9a-f]{32}) matched\nSHA-256 ([0-9a-f]{64}) matched\n$/;

/** `client generate FILE --size SIZE --seed SEED`; returns the file's digests. */
export async function generate(
  path: string,
  size: string | number,
  seed: number,
): Promise<Digests> {
  const run = await client(["generate", path, "--size", String(size), "--seed", String(seed)]);
  assertExit(run, 0);
  return await digestsOf(path);
}

/** Bytes [offset, offset + length) of a file. */
export async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  assert.equal(got, length, `${path} is shorter than ${offset + length} bytes`);
  return out;
}

/** The upload URL a recorded POST was answered with (as the server gave it). */
export function createdUrl(recorder: HttpRecorder): string {
  const posts = recorder.byMethod("POST");
  assert.equal(posts.length, 1, "expected exactly one POST (one upload created)");
  const location = posts[0]!.responseHeaders?.get("location");
  assert.ok(location, `POST answered ${posts[0]!.status} without Location`);
  return location;
}

/** The server's offset for an upload (HEAD), checked against the size of its data file. */
export async function serverOffset(server: TestServer, id: string): Promise<number> {
  const res = await head(server, `/files/${id}`);
  assert.equal(res.status, 200, `HEAD /files/${id}`);
  assert.ok(res.offset !== undefined, "HEAD without Upload-Offset");
  assert.equal(
    await fileSize(server.dataPath(id)),
    res.offset,
    "the data file's size must equal the offset HEAD reports",
  );
  return res.offset;
}

/** Asserts the PATCHes are back to back from `from` and each body was exactly its Content-Length. */
export function assertContiguous(patches: RecordedRequest[], from: number): void {
  let at = from;
  for (const p of patches) {
    assert.equal(p.uploadOffset, at, `PATCH #${p.index} should start at ${at}`);
    // Bodies stream (so progress shows bytes as they go out): chunked, or an exact Content-Length.
    assert.equal(p.bodyBytes, p.contentLength ?? p.bodyBytes, `PATCH #${p.index}: Content-Length`);
    at += p.bodyBytes;
  }
}

export function sum(patches: RecordedRequest[]): number {
  return patches.reduce((total, p) => total + p.bodyBytes, 0);
}

/** The success lines of a plain (non-JSON) upload, parsed. */
export function uploadedLine(run: ClientRun): { url: string; md5: string; sha256: string } {
  const m = UPLOADED.exec(run.stdout);
  assert.ok(m, `stdout should end with the URL and matched digests, got ${run.stdout}`);
  return { url: m[2]!, md5: m[3]!, sha256: m[4]! };
}

/** A file for the client to send, with its digests. */
export interface SourceFile extends Digests {
  path: string;
}

/** What a run that crashed left behind: the run and the one upload it created. */
export interface Crashed {
  run: ClientRun;
  /** The upload's URL: as the server gave it (recorded), else as the client reported it. */
  url: string;
  id: string;
}

/**
 * A real server (`--port 0`, its own temp dir), a temp dir for the test's files and the client's
 * state, and optionally a recording HTTP proxy or a TCP proxy in front of the server; disposal
 * stops them all and removes both directories.
 */
export class ClientFixture implements AsyncDisposable {
  readonly server: TestServer;
  /** The test's temp dir: its files and the client's `--state-dir`. */
  readonly dir: string;
  readonly stateDir: string;
  readonly #resources: AsyncDisposableStack;
  #recorder: HttpRecorder | undefined;
  #front: { origin: string } | undefined;

  private constructor(server: TestServer, dir: string, resources: AsyncDisposableStack) {
    this.server = server;
    this.dir = dir;
    this.stateDir = `${dir}/state`;
    this.#resources = resources;
  }

  static async start(options: { server?: ServerOptions } = {}): Promise<ClientFixture> {
    const resources = new AsyncDisposableStack();
    try {
      const server = resources.use(await startServer(options.server));
      const work = resources.use(await tempDir());
      return new ClientFixture(server, work.path, resources);
    } catch (error) {
      await resources.disposeAsync();
      throw error;
    }
  }

  /** The collection URL the client is given: through the recorder or proxy once one is started. */
  get endpoint(): string {
    return this.#front ? `${this.#front.origin}/files` : this.server.url;
  }

  /** `--endpoint ENDPOINT --state-dir STATE_DIR`. */
  get flags(): string[] {
    return ["--endpoint", this.endpoint, "--state-dir", this.stateDir];
  }

  /** `upload FILE --endpoint … --state-dir … …extra`. */
  upload(file: string, ...extra: string[]): string[] {
    return ["upload", file, ...this.flags, ...extra];
  }

  /** A path in the test's temp dir. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** `client generate` writes `name` in the temp dir. */
  async generate(name: string, size: string | number, seed: number): Promise<SourceFile> {
    const path = this.path(name);
    return { path, ...await generate(path, size, seed) };
  }

  /** Writes `bytes` to `name` in the temp dir. */
  async write(name: string, bytes: Uint8Array): Promise<SourceFile> {
    const path = this.path(name);
    await Deno.writeFile(path, bytes);
    return { path, ...await digestsOf(path) };
  }

  /** Puts a recording HTTP proxy between the client and the server (at most one front). */
  record(options: Omit<RecorderOptions, "target"> = {}): HttpRecorder {
    this.#noFrontYet();
    this.#recorder = this.#resources.use(
      HttpRecorder.start({ ...options, target: this.server.origin }),
    );
    return this.#front = this.#recorder;
  }

  /** Puts a TCP proxy between the client and the server (at most one front). */
  proxy(options: Omit<ProxyOptions, "target"> = {}): TcpProxy {
    this.#noFrontYet();
    const proxy = this.#resources.use(TcpProxy.start({ ...options, target: this.server }));
    return this.#front = proxy;
  }

  /**
   * Runs `args` with `--crash-after at` and asserts the client SIGKILLed itself. The upload it
   * created is the one POST the recorder saw (once settled), or without a recorder the one
   * `created` event of the run (`--json`).
   */
  async crash(args: string[], at: string): Promise<Crashed> {
    const run = await client([...args, "--crash-after", at]);
    assertKilled(run);
    let url: string;
    if (this.#recorder) {
      await this.#recorder.settled();
      url = createdUrl(this.#recorder);
    } else {
      const created = only(eventsOf(run), "created");
      assert.equal(created.length, 1, `the crashed run created one upload\n${describeRun(run)}`);
      url = created[0]!.url;
    }
    return { run, url, id: idOf(url) };
  }

  /**
   * Runs `args` to exit 0. The recorder forgets what it recorded before, and has settled after:
   * its requests are this run's.
   */
  async complete(args: string[]): Promise<ClientRun> {
    this.#recorder?.clear();
    const run = await client(args);
    assertExit(run, 0);
    await this.#recorder?.settled();
    return run;
  }

  /** Size and digests of the bytes the server stored for upload `id`. */
  stored(id: string): Promise<Digests> {
    return digestsOf(this.server.dataPath(id));
  }

  /** Asserts the server stored exactly the bytes with MD5 `md5` for upload `id`. */
  async assertStored(id: string, md5: string): Promise<void> {
    assert.equal((await this.stored(id)).md5, md5, `the server's bytes of upload ${id}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#resources.disposeAsync();
  }

  #noFrontYet(): void {
    assert.equal(this.#front, undefined, "one recorder or proxy per fixture");
  }
}
