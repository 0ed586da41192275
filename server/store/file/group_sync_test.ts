import assert from "node:assert/strict";
import { libc } from "../../../lib/deno/libc.ts";
import { GroupSync, openGroupSync } from "./group_sync.ts";

/** A syncAll the test completes by hand, recording when each one started. */
function manual() {
  const started: (() => void)[] = [];
  const group = new GroupSync(() => new Promise<void>((resolve) => started.push(resolve)));
  return { group, started };
}

Deno.test("GroupSync: callers during a running sync share the next one, which starts after it", async () => {
  const { group, started } = manual();
  const order: string[] = [];
  const a = group.sync().then(() => order.push("a"));
  assert.equal(started.length, 1);
  // b, c and d asked while a's sync runs: their writes may be newer than its start.
  const b = group.sync().then(() => order.push("b"));
  const c = group.sync().then(() => order.push("c"));
  assert.equal(started.length, 1, "no second sync while one runs");
  started[0]!();
  await a;
  assert.deepEqual(order, ["a"], "b and c are not covered by a's sync");
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(started.length, 2, "the next sync starts once the first returned");
  const d = group.sync().then(() => order.push("d"));
  started[1]!();
  await Promise.all([b, c]);
  await Promise.resolve();
  assert.deepEqual(order.slice(0, 3), ["a", "b", "c"]);
  assert.equal(started.length, 3, "d asked while b and c's sync ran: it gets its own");
  started[2]!();
  await d;
  assert.equal(group.syncs, 3);
});

Deno.test("GroupSync: after a failed sync nothing is durable again (the lost pages may be anyone's)", async () => {
  let fail = true;
  let calls = 0;
  const group = new GroupSync(() => {
    calls++;
    return fail ? Promise.reject(new Error("EIO")) : Promise.resolve();
  });
  await assert.rejects(group.sync(), /EIO/);
  fail = false; // the next syncfs would report success: the error was already taken
  await assert.rejects(group.sync(), /EIO/);
  await assert.rejects(group.sync(), /EIO/);
  assert.equal(calls, 1, "no sync is even tried again");
  assert.match(String(group.failed?.message), /EIO/);
});

Deno.test("openGroupSync: syncs the real filesystem when FFI is permitted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const group = openGroupSync(dir);
    if (
      Deno.permissions.querySync({ name: "ffi" }).state === "granted" && Deno.build.os === "linux"
    ) {
      assert.ok(group, "FFI permitted on Linux: group commit available");
      await Deno.writeTextFile(`${dir}/x`, "x");
      await Promise.all([group.sync(), group.sync(), group.sync()]);
      assert.ok(group.syncs >= 1 && group.syncs <= 2);
    } else {
      assert.equal(group, undefined);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openGroupSync: its descriptor is not inherited by the processes the server starts", async () => {
  if (!libc()) return; // no group commit without FFI on Linux: nothing to inherit
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    assert.ok(openGroupSync(dir));
    const child = await new Deno.Command("ls", { args: ["-l", "/proc/self/fd/"] }).output();
    const fds = new TextDecoder().decode(child.stdout);
    assert.ok(child.success && fds.includes("/proc/"), fds);
    assert.ok(!fds.includes(dir), `a hook would hold the data directory open:\n${fds}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
