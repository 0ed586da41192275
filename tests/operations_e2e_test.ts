/**
 * Operations end to end, against the real server process: metrics move by the right
 * amounts after a scripted sequence, every log line on stderr is a JSON object, status and listing
 * show the progress of an upload whose PATCH is still streaming, and readiness flips when free
 * space crosses `--min-free` on a real (tmpfs) filesystem.
 */

import assert from "node:assert/strict";
import { startServer } from "./helpers/server.ts";
import { startPatch } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";
import { VERSION } from "../lib/version.ts";

const TUS = { "Tus-Resumable": "1.0.0" };
const OCTETS = "application/offset+octet-stream";
const MiB = 1024 * 1024;

async function metric(origin: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const found = text.split("\n").find((l) => line.test(l.split(" ")[0]!));
  return found ? Number(found.split(" ").at(-1)) : 0;
}

async function create(url: string, length: number, body?: Uint8Array<ArrayBuffer>) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      ...TUS,
      "Upload-Length": String(length),
      ...(body ? { "Content-Type": OCTETS } : {}),
    },
    ...(body ? { body } : {}),
  });
  await res.body?.cancel();
  assert.equal(res.status, 201);
  return res.headers.get("location")!;
}

Deno.test("metrics move by the right amounts after a scripted sequence; logs are JSON lines", async () => {
  await using server = await startServer({ args: ["--min-free", "0", "--log-level", "debug"] });
  const o = server.origin;
  // The sweep at start recounts the unfinished uploads: let it finish before counting.
  await waitFor(() => server.stderr.includes(`"message":"sweep"`), { message: "the first sweep" });
  const active = () => metric(o, /^resumable_uploads_active$/);
  const before = {
    created: await metric(o, /^resumable_uploads_total\{event="created"\}$/),
    bytes: await metric(o, /^resumable_bytes_received_total$/),
  };
  assert.deepEqual(before, { created: 0, bytes: 0 });
  // Three uploads: one complete at creation (3 bytes), one completed by two PATCHes (10 bytes),
  // one terminated after 4 bytes; one PATCH at a wrong offset (409).
  await create(server.url, 3, new Uint8Array([1, 2, 3]));
  assert.equal(await active(), 0, "complete at once: never unfinished");
  const b = await create(server.url, 10);
  const c = await create(server.url, 10);
  assert.equal(await active(), 2);
  const patch = async (url: string, offset: number, n: number) => {
    const res = await fetch(url, {
      method: "PATCH",
      headers: { ...TUS, "Content-Type": OCTETS, "Upload-Offset": String(offset) },
      body: new Uint8Array(n),
    });
    await res.body?.cancel();
    return res.status;
  };
  assert.equal(await patch(b, 0, 6), 204);
  assert.equal(await patch(b, 0, 6), 409);
  assert.equal(await patch(b, 6, 4), 204);
  assert.equal(await patch(c, 0, 4), 204);
  const del = await fetch(c, { method: "DELETE", headers: TUS });
  assert.equal(del.status, 204);
  const count = (event: string) =>
    metric(o, new RegExp(`^resumable_uploads_total\\{event="${event}"\\}$`));
  assert.equal(await count("created"), 3);
  assert.equal(await count("completed"), 2);
  assert.equal(await count("terminated"), 1);
  assert.equal(await metric(o, /^resumable_bytes_received_total$/), 3 + 10 + 4);
  assert.equal(await metric(o, /^resumable_requests_total\{method="PATCH",status="204"\}$/), 3);
  assert.equal(await metric(o, /^resumable_requests_total\{method="PATCH",status="409"\}$/), 1);
  assert.equal(await metric(o, /^resumable_requests_total\{method="DELETE",status="204"\}$/), 1);
  assert.ok(await metric(o, /^resumable_fsync_duration_seconds_count$/) >= 3);
  assert.equal(await metric(o, /^resumable_active_request_bodies$/), 0);
  assert.equal(await active(), 0, "one completed, one terminated");
  // Counters never go backwards within a process.
  assert.equal(await count("created"), 3);

  // Every stderr line is one JSON object; each request above has its line.
  const lines = server.stderr.split("\n").filter((l) => l.trim() !== "");
  const entries = lines.map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`not a JSON log line: ${l}`);
    }
  });
  const requests = entries.filter((e) => e.message === "request");
  assert.ok(entries.some((e) => e.message === "sweep" && e.unfinished === 0));
  assert.ok(requests.length >= 8, `${requests.length} request lines`);
  for (const e of requests) {
    assert.equal(typeof e.method, "string");
    assert.equal(typeof e.status, "number");
    assert.equal(typeof e.duration_ms, "number");
    assert.match(e.request_id, /\S/);
    assert.match(e.time ?? e.ts ?? e.timestamp ?? "", /^\d{4}-/, "timestamped");
  }
});

Deno.test("status and listing show the progress of an upload whose PATCH is still streaming", async () => {
  await using server = await startServer({ args: ["--min-free", "0"] });
  const url = await create(server.url, 8 * MiB);
  const id = url.split("/").at(-1)!;
  let push!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c) });
  const patch = fetch(url, {
    method: "PATCH",
    headers: { ...TUS, "Content-Type": OCTETS, "Upload-Offset": "0" },
    body,
  });
  for (let i = 0; i < 3; i++) push.enqueue(new Uint8Array(MiB));
  const status = await waitFor(async () => {
    const s = await (await fetch(`${url}/status`)).json();
    return s.received >= 3 * MiB ? s : undefined;
  }, { message: "3 MiB received" });
  assert.equal(status.state, "uploading");
  assert.equal(status.length, 8 * MiB);
  assert.ok(status.percent >= 37.5 && status.percent < 100, `percent ${status.percent}`);
  assert.ok(status.bytesPerSecond > 0, `rate ${status.bytesPerSecond}`);
  assert.ok(
    Number.isInteger(status.etaSeconds) && status.etaSeconds >= 0,
    `eta ${status.etaSeconds}`,
  );
  assert.equal(status.digests, null);
  const listed = await (await fetch(`${server.url}?state=uploading`)).json();
  assert.deepEqual(listed.uploads.map((u: { id: string }) => u.id), [id]);
  assert.ok(listed.uploads[0].offset >= 3 * MiB);
  for (let i = 0; i < 5; i++) push.enqueue(new Uint8Array(MiB));
  push.close();
  const res = await patch;
  await res.body?.cancel();
  assert.equal(res.status, 204);
  const done = await (await fetch(`${url}/status`)).json();
  assert.equal(done.state, "complete");
  assert.equal(done.etaSeconds, null);
  assert.match(done.digests.sha256, /^[0-9a-f]{64}$/);
  const complete = await (await fetch(`${server.url}?state=complete`)).json();
  assert.deepEqual(complete.uploads.map((u: { id: string }) => u.id), [id]);
});

async function run(command: string, args: string[]): Promise<number> {
  try {
    return (await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output())
      .code;
  } catch {
    return -1;
  }
}

Deno.test("readiness flips when free space crosses --min-free, and new uploads get 507 meanwhile", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "resumable-ready-" });
  try {
    if (
      await run("mount", ["-t", "tmpfs", "-o", `size=${16 * MiB},mode=0700`, "tmpfs", root]) !== 0
    ) {
      console.log("readiness flip test skipped: mounting a tmpfs is not permitted here");
      await t.step({ name: "needs a tmpfs (mount not permitted)", ignore: true, fn() {} });
      return;
    }
    try {
      await using server = await startServer({
        args: ["--dir", `${root}/data`, "--min-free", "8MiB"],
      });
      const ready = async () => {
        const res = await fetch(`${server.origin}/readyz`);
        await res.body?.cancel();
        return res.status;
      };
      assert.equal(await ready(), 200);
      // 10 MiB of a 16 MiB filesystem: less than 8 MiB stay free.
      const big = await create(server.url, 10 * MiB, new Uint8Array(10 * MiB));
      await waitFor(async () => (await ready()) === 503, { message: "/readyz 503" });
      const refused = await fetch(server.url, {
        method: "POST",
        headers: { ...TUS, "Upload-Length": "1" },
      });
      assert.equal(refused.status, 507, await refused.text());
      assert.ok(
        await metric(server.origin, /^resumable_disk_free_bytes$/) < 8 * MiB,
        "the gauge shows the low free space",
      );
      const del = await fetch(big, { method: "DELETE", headers: TUS });
      assert.equal(del.status, 204);
      await waitFor(async () => (await ready()) === 200, { message: "/readyz 200 again" });
      await create(server.url, 1);
    } finally {
      if (await run("umount", [root]) !== 0) await run("umount", ["-l", root]);
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});

/** The server's stderr so far, each line parsed as JSON (a line that isn't fails the test). */
function logLines(server: { stderr: string }): Record<string, unknown>[] {
  return server.stderr.split("\n").filter((l) => l.trim() !== "").map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`not a JSON log line: ${l}`);
    }
  });
}

Deno.test("log lines: start and stop, client and user agent, bytes sent, and a client abort as 499", async () => {
  await using server = await startServer({ args: ["--min-free", "0"] });
  const started = logLines(server).find((e) => e.message === "started");
  assert.ok(started, "a started line");
  assert.equal(started.version, VERSION);
  assert.equal(started.address, server.url);
  assert.equal(started.dir, server.dir);
  assert.equal(started.store, "file");

  const agent = { "User-Agent": "ops-test/1.0" };
  const body = new Uint8Array(MiB).fill(3);
  const url = await create(server.url, body.length, body);
  const got = await fetch(url, { headers: agent });
  assert.equal((await got.arrayBuffer()).byteLength, MiB);
  const download = await waitFor(
    () =>
      logLines(server).find((e) =>
        e.message === "request" && e.method === "GET" && e.path === new URL(url).pathname
      ),
    { message: "the download's request line" },
  );
  assert.equal(download.status, 200);
  assert.equal(download.bytes_sent, MiB);
  assert.equal(download.client, "127.0.0.1");
  assert.equal(download.user_agent, "ops-test/1.0");
  assert.ok(await metric(server.origin, /^resumable_bytes_sent_total$/) >= MiB);

  // A PATCH whose client goes away mid-body (a pause): 499 in the log and the metrics, not 400.
  const paused = await create(server.url, 4 * MiB);
  const conn = await startPatch(server, new URL(paused).pathname, 4 * MiB);
  await conn.write(new Uint8Array(64 * 1024));
  conn.close();
  const aborted = await waitFor(
    () => logLines(server).find((e) => e.message === "request" && e.method === "PATCH"),
    { message: "the aborted PATCH's request line" },
  );
  assert.equal(aborted.status, 499);
  assert.equal(
    await metric(server.origin, /^resumable_requests_total\{method="PATCH",status="499"\}$/),
    1,
  );
  assert.equal(
    await metric(server.origin, /^resumable_requests_total\{method="PATCH",status="400"\}$/),
    0,
  );

  const status = await server.kill("SIGTERM");
  assert.equal(status.code, 0);
  const lines = logLines(server);
  const stopping = lines.find((e) => e.message === "stopping");
  const stopped = lines.find((e) => e.message === "stopped");
  assert.equal(stopping?.signal, "SIGTERM");
  assert.equal(stopped?.signal, "SIGTERM");
  assert.equal(typeof stopped?.shutdown_ms, "number");
  assert.equal(lines.at(-1), stopped, "stopped is the last line");
});

Deno.test("process and build-info metrics are scraped from the real server", async () => {
  await using server = await startServer({ args: ["--min-free", "0"] });
  const text = await (await fetch(`${server.origin}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    assert.ok(line, `${name} is exported`);
    return Number(line.split(" ")[1]);
  };
  assert.ok(value("process_resident_memory_bytes") > 10 * MiB);
  assert.ok(value("process_cpu_seconds_total") > 0);
  assert.ok(value("process_open_fds") >= 3);
  const start = value("process_start_time_seconds");
  assert.ok(Math.abs(start - Date.now() / 1000) < 600, `start time ${start}`);
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(
    text,
    new RegExp(
      `^resumable_build_info\\{version="${VERSION.replaceAll(".", "\\.")}",deno="[^"]+"\\} 1$`,
      "m",
    ),
  );
});
