/**
 * Helpers for the "safe to expose" end-to-end tests: bearer tokens (minted by `main.ts token`, or
 * forged here with node:crypto to test what the server refuses), a client child process whose
 * output can be watched while it runs (to act when it reports a retry), and a seeded PRNG.
 *
 *     const token = await mintToken("alice", SECRET);
 *     await using run = ClientProcess.spawn(["upload", file, "--json", …], { RESUMABLE_TOKEN: t });
 *     await run.waitForLine((l) => l.includes('"type":"retry"'), 10_000, "a retry event");
 *     const done = await run.finish(30_000);
 */

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { CLIENT_PERMISSIONS, type ClientRun } from "./client_cli.ts";
import { runMain, spawnMainWith } from "./server.ts";
import { waitFor, withDeadline } from "./wait.ts";

/** `main.ts token --sub SUB --secret SECRET [--ttl TTL]`: asserts exit 0, returns the token. */
export async function mintToken(sub: string, secret: string, ttl?: string): Promise<string> {
  const args = ["token", "--sub", sub, "--secret", secret, ...(ttl ? ["--ttl", ttl] : [])];
  const run = await runMain(args);
  assert.equal(run.code, 0, `main.ts ${args.join(" ")}\n${run.stdout}\n${run.stderr}`);
  const token = run.stdout.trim();
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "a JWT on stdout");
  return token;
}

function base64url(bytes: Uint8Array | string): string {
  const buf = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  let bin = "";
  for (const b of buf) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A JWT signed here, independently of the server's code: HS256 with `secret`, or with any
 * header (e.g. `{alg: "none"}`) and no valid signature when `secret` is undefined.
 */
export function forgeJwt(
  claims: Record<string, unknown>,
  secret: string | undefined,
  header: Record<string, unknown> = { alg: "HS256", typ: "JWT" },
): string {
  const signing = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  if (secret === undefined) return `${signing}.`;
  const mac = createHmac("sha256", secret).update(signing).digest();
  return `${signing}.${base64url(new Uint8Array(mac))}`;
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** mulberry32: a small, fast, seeded PRNG giving floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `main.ts client …` as a child process whose stdout and stderr are collected as they come, so a
 * test can wait for a line (say, a `retry` event) and act while the client is still running.
 * Disposal kills it (SIGKILL) if it still runs.
 */
export class ClientProcess implements AsyncDisposable {
  readonly args: string[];
  stdout = "";
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #done: Promise<Deno.CommandStatus>;
  #exited = false;

  private constructor(args: string[], env: Record<string, string>) {
    this.args = args;
    this.#child = spawnMainWith(CLIENT_PERMISSIONS, ["client", ...args], env);
    const pump = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this[into] += text;
    };
    const pumps = Promise.all([
      pump(this.#child.stdout, "stdout"),
      pump(this.#child.stderr, "stderr"),
    ]);
    this.#done = Promise.all([this.#child.status, pumps]).then(([status]) => {
      this.#exited = true;
      return status;
    });
  }

  static spawn(args: string[], env: Record<string, string> = {}): ClientProcess {
    return new ClientProcess(args, env);
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    return this.stdout.split("\n").slice(0, -1).filter((l) => l.trim() !== "");
  }

  /** Waits until a complete stdout line satisfies `match`; returns it. */
  async waitForLine(
    match: (line: string) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<string> {
    return await waitFor(() => {
      const line = this.lines.find(match);
      if (line === undefined && this.#exited) {
        throw new Error(`the client exited first\n${this.describe()}`);
      }
      return line;
    }, { timeoutMs, message: () => `${what}\n${this.describe()}` });
  }

  /** Waits for the exit (SIGKILL after `timeoutMs`); the run as `runClient` reports it. */
  async finish(timeoutMs: number): Promise<ClientRun> {
    let status: Deno.CommandStatus;
    try {
      status = await withDeadline(this.#done, timeoutMs, `client ${this.args.join(" ")}`);
    } catch (error) {
      await this[Symbol.asyncDispose]();
      throw error;
    }
    return {
      args: this.args,
      code: status.code,
      signal: status.signal,
      stdout: this.stdout,
      stderr: this.stderr,
    };
  }

  describe(): string {
    return `client ${
      this.args.join(" ")
    }\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }
    await this.#done;
  }
}
