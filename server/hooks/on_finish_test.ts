import assert from "node:assert/strict";
import { encodeMetadata } from "../../lib/metadata.ts";
import { type HookEvent, hookEvent } from "./events.ts";
import { OnFinish, type RunResult } from "./on_finish.ts";

function finished(id: string, metadata: Record<string, string> = {}): HookEvent {
  return hookEvent("post-finish", {
    id,
    offset: 3,
    length: 3,
    metadata: encodeMetadata(metadata),
    createdAt: 0,
    updatedAt: 0,
  }, { now: 0 });
}

function recorder() {
  const results: { result: RunResult; detail: string; id: string }[] = [];
  return {
    results,
    onResult: (result: RunResult, detail: string, event: HookEvent) =>
      void results.push({ result, detail, id: event.id }),
  };
}

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "on-finish-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("OnFinish runs the command with the event as JSON on stdin, metadata never interpreted", async () => {
  await withDir(async (dir) => {
    const { results, onResult } = recorder();
    const out = `${dir}/event.json`;
    const runner = new OnFinish(["sh", "-c", 'cat > "$1"', "sh", out], {
      timeoutMs: 10_000,
      onResult,
    });
    runner.assertAllowed();
    const hostile = `$(touch ${dir}/pwned); \`touch ${dir}/pwned2\``;
    const event = finished("a", { filename: hostile });
    runner.run(event);
    await runner.idle();
    assert.deepEqual(results, [{ result: "ok", detail: "", id: "a" }]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(out)), JSON.parse(JSON.stringify(event)));
    assert.equal(JSON.parse(await Deno.readTextFile(out)).metadata.filename, hostile);
    await assert.rejects(Deno.stat(`${dir}/pwned`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dir}/pwned2`), Deno.errors.NotFound);
  });
});

Deno.test("OnFinish reports a failing command with its exit status and stderr", async () => {
  const { results, onResult } = recorder();
  const runner = new OnFinish(["sh", "-c", "echo 'no space left' >&2; exit 3"], {
    timeoutMs: 10_000,
    onResult,
  });
  runner.run(finished("a"));
  await runner.idle();
  assert.equal(results[0]?.result, "failed");
  assert.equal(results[0]?.detail, "exit status 3; stderr: no space left");
});

Deno.test("OnFinish reports a command that can't be started", async () => {
  const { results, onResult } = recorder();
  const runner = new OnFinish(["/nonexistent/resumable-hook"], { timeoutMs: 10_000, onResult });
  runner.run(finished("a"));
  await runner.idle();
  assert.equal(results[0]?.result, "failed");
  assert.match(results[0]!.detail, /^could not start: /);
});

Deno.test("OnFinish kills a command that outlives the timeout", async () => {
  const { results, onResult } = recorder();
  const runner = new OnFinish(["sleep", "30"], { timeoutMs: 200, onResult });
  const started = Date.now();
  runner.run(finished("a"));
  await runner.idle();
  assert.ok(Date.now() - started < 10_000);
  assert.equal(results[0]?.result, "timeout");
  assert.equal(results[0]?.detail, "killed after 200 ms");
});

Deno.test("OnFinish runs at most maxRunning at once, queues maxWaiting more and drops the rest", async () => {
  await withDir(async (dir) => {
    const { results, onResult } = recorder();
    // Each run appends its start and end to a log, so overlapping runs would interleave.
    const runner = new OnFinish(
      [
        "sh",
        "-c",
        'echo start >> "$1"; cat > /dev/null; sleep 0.1; echo end >> "$1"',
        "sh",
        `${dir}/log`,
      ],
      { timeoutMs: 10_000, maxRunning: 1, maxWaiting: 1, onResult },
    );
    runner.run(finished("a"));
    runner.run(finished("b"));
    runner.run(finished("c"));
    assert.equal(runner.pending, 2);
    assert.deepEqual(results, [{
      result: "dropped",
      detail: "too many --on-finish runs waiting",
      id: "c",
    }]);
    await runner.idle();
    assert.deepEqual(results.slice(1).map((r) => [r.id, r.result]), [["a", "ok"], ["b", "ok"]]);
    assert.equal(await Deno.readTextFile(`${dir}/log`), "start\nend\nstart\nend\n");
  });
});

Deno.test("OnFinish.stop drops waiting runs and kills running ones after the grace period", async () => {
  const { results, onResult } = recorder();
  const runner = new OnFinish(["sleep", "30"], { timeoutMs: 60_000, maxRunning: 1, onResult });
  runner.run(finished("a"));
  runner.run(finished("b"));
  const started = Date.now();
  await runner.stop(100);
  assert.ok(Date.now() - started < 10_000);
  assert.deepEqual(results.map((r) => [r.id, r.result]), [["b", "dropped"], ["a", "failed"]]);
  assert.equal(results[1]?.detail, "killed by SIGKILL");
  runner.run(finished("c")); // stopped: ignored
  assert.equal(runner.pending, 0);
});

Deno.test("OnFinish: a background grandchild holding stderr doesn't hold the run; no server secrets in its env", async () => {
  await withDir(async (dir) => {
    const { results, onResult } = recorder();
    const out = `${dir}/env.txt`;
    const runner = new OnFinish(
      ["sh", "-c", 'env > "$1"; sleep 30 & exit 0', "sh", out],
      { timeoutMs: 10_000, onResult },
    );
    const started = Date.now();
    runner.run(finished("a"));
    await runner.idle();
    assert.deepEqual(results.map((r) => r.result), ["ok"]);
    assert.ok(Date.now() - started < 5_000, `the run took ${Date.now() - started} ms`);
    const env = await Deno.readTextFile(out);
    assert.match(env, /^PATH=/m);
    assert.doesNotMatch(env, /RESUMABLE_|AWS_|PGPASSWORD/);
    await runner.stop(100);
  });
});
