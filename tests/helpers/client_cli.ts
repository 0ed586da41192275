/**
 * Runs our client CLI (`main.ts client …`) as a child process for interop tests, with the
 * permissions of the `client` task, and reads what it printed.
 *
 *     const run = await runClient(["upload", file, "--endpoint", url, "--state-dir", dir, "--json"]);
 *     assertExit(run, 0);
 *     const done = completedEvent(run); // { url, size, md5, sha256, verified }
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { outputWithin, runMainWith, spawnMainWith } from "./server.ts";
import { withDeadline } from "./wait.ts";
import type { UploadEvent } from "../../client/core/upload_core.ts";

/** The permissions the client runs with in tests: the `client` task's, without FFI. */
export const CLIENT_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

export interface ClientRun {
  args: string[];
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Runs `main.ts client …args` to its end (SIGKILL after the deadline) and collects its output. */
export async function runClient(args: string[], timeoutMs = 30_000): Promise<ClientRun> {
  return { args, ...await runMainWith(CLIENT_PERMISSIONS, ["client", ...args], timeoutMs) };
}

/**
 * Runs `main.ts client …args` on a pseudo-terminal of `columns` columns (util-linux `script`), as
 * a person at a terminal would see it: stdout and stderr arrive merged, in `stdout`, with the
 * carriage returns and erase-line sequences of the progress line.
 */
export async function runClientInTerminal(
  args: string[],
  columns: number,
  timeoutMs = 60_000,
): Promise<ClientRun> {
  const main = decodeURIComponent(new URL("../../main.ts", import.meta.url).pathname);
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", ...CLIENT_PERMISSIONS, main, "client", ...args]
    .map(quote).join(" ");
  const child = new Deno.Command("script", {
    args: [
      "--quiet",
      "--return",
      "--command",
      `stty cols ${columns} rows 24; exec ${command}`,
      "/dev/null",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const { code, signal, stdout, stderr } = await outputWithin(
    child,
    timeoutMs,
    `client ${args.join(" ")} on a terminal`,
  );
  const decoder = new TextDecoder();
  return { args, code, signal, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** A client running in the background: its stdout lines as they come, signals, its end. */
export interface LiveClient extends AsyncDisposable {
  /** The first stdout line `test` accepts (waiting for it); rejects at the deadline or the end. */
  line(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  kill(signal: Deno.Signal): void;
  /** Waits for the end (SIGKILL after the deadline) and collects the whole output. */
  done(timeoutMs?: number): Promise<ClientRun>;
}

/** Starts `main.ts client …args` without waiting for it. */
export function startClient(args: string[]): LiveClient {
  const child = spawnMainWith(CLIENT_PERMISSIONS, ["client", ...args]);
  const seen: string[] = [];
  let ended = false;
  let wake = Promise.withResolvers<void>();
  const stdout = (async () => {
    let buffered = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      seen.push(...parts);
      wake.resolve();
      wake = Promise.withResolvers<void>();
    }
    if (buffered) seen.push(buffered);
    ended = true;
    wake.resolve();
  })();
  const stderr = new Response(child.stderr).text();
  const status = child.status;
  const done = async (timeoutMs = 30_000): Promise<ClientRun> => {
    try {
      const { code, signal } = await withDeadline(status, timeoutMs, `client ${args.join(" ")}`);
      await stdout;
      return { args, code, signal, stdout: seen.join("\n"), stderr: await stderr };
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await Promise.all([status, stdout, stderr]).catch(() => {});
      throw error;
    }
  };
  return {
    async line(test, timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs;
      for (let i = 0;;) {
        for (; i < seen.length; i++) if (test(seen[i]!)) return seen[i]!;
        if (ended) throw new Error(`client ${args.join(" ")} ended without such a line`);
        const left = deadline - performance.now();
        await withDeadline(wake.promise, Math.max(0, left), "a stdout line from the client");
      }
    },
    kill: (signal) => child.kill(signal),
    done,
    async [Symbol.asyncDispose]() {
      await done(0).catch(() => {});
    },
  };
}

/** What a run printed, for assertion messages. */
export function describeRun(run: ClientRun): string {
  return `client ${run.args.join(" ")}\nexit ${run.code} (signal ${run.signal})` +
    `\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
}

export function assertExit(run: ClientRun, code: number): void {
  assert.equal(run.code, code, describeRun(run));
}

/**
 * Asserts one clear `error:` line on stderr (wrapped to the width: its continuation lines are
 * indented) and no stack trace; returns that line, unwrapped.
 */
export function assertOneErrorLine(run: ClientRun): string {
  const unwrapped = run.stderr.replace(/\n {2}(?=\S)/g, " ");
  const errors = lines(unwrapped).filter((line) => line.startsWith("error:"));
  assert.equal(errors.length, 1, `expected exactly one "error:" line\n${describeRun(run)}`);
  assert.ok(
    !/^\s+at /m.test(unwrapped) && !/^\s+at /m.test(run.stdout),
    `no stack trace expected\n${describeRun(run)}`,
  );
  return errors[0]!;
}

/** Asserts the process died by SIGKILL (what `--crash-after` does to itself). */
export function assertKilled(run: ClientRun): void {
  assert.equal(run.signal, "SIGKILL", describeRun(run));
}

/** A `--json` event: one line of a `--json` run is one event the upload reports. */
export type ClientEvent = UploadEvent;

export type CompletedEvent = Extract<ClientEvent, { type: "completed" }>;

export function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

/** The `--json` events of a run, one per stdout line. */
export function eventsOf(run: ClientRun): ClientEvent[] {
  return lines(run.stdout).map((line) => {
    try {
      return JSON.parse(line) as ClientEvent;
    } catch {
      throw new Error(`stdout line is not JSON: ${JSON.stringify(line)}\n${describeRun(run)}`);
    }
  });
}

/** The events of one type, typed as such. */
export function only<T extends ClientEvent["type"]>(
  events: ClientEvent[],
  type: T,
): Extract<ClientEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ClientEvent, { type: T }> => e.type === type);
}

/** The one `completed` event of a `--json` run. */
export function completedEvent(run: ClientRun): CompletedEvent {
  const completed = only(eventsOf(run), "completed");
  assert.equal(completed.length, 1, `expected one "completed" event\n${describeRun(run)}`);
  return completed[0]!;
}

export interface TempDir extends AsyncDisposable {
  path: string;
}

export async function tempDir(prefix = "resumable-interop-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

export interface Digests {
  size: number;
  md5: string;
  sha256: string;
}

/** Size, MD5 and SHA-256 (hex) of a file, read in pieces. */
export async function digestsOf(path: string): Promise<Digests> {
  const md5 = createHash("md5");
  const sha256 = createHash("sha256");
  let size = 0;
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1024 * 1024);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    md5.update(buffer.subarray(0, n));
    sha256.update(buffer.subarray(0, n));
    size += n;
  }
  return { size, md5: md5.digest("hex"), sha256: sha256.digest("hex") };
}

/** The upload id: the last path segment of its URL. */
export function idOf(url: string): string {
  return new URL(url).pathname.split("/").pop()!;
}
