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
import { runMainWith } from "./server.ts";
import type { UploadEvent } from "../../client/upload_core.ts";

/** The permissions the `client` task grants. */
const CLIENT_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

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

/** What a run printed, for assertion messages. */
export function describeRun(run: ClientRun): string {
  return `client ${run.args.join(" ")}\nexit ${run.code} (signal ${run.signal})` +
    `\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
}

export function assertExit(run: ClientRun, code: number): void {
  assert.equal(run.code, code, describeRun(run));
}

/** Asserts one clear `error:` line on stderr and no stack trace; returns that line. */
export function assertOneErrorLine(run: ClientRun): string {
  const errors = lines(run.stderr).filter((line) => line.startsWith("error:"));
  assert.equal(errors.length, 1, `expected exactly one "error:" line\n${describeRun(run)}`);
  assert.ok(
    !/^\s+at /m.test(run.stderr) && !/^\s+at /m.test(run.stdout),
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
