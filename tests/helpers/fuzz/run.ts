/** One fuzz run: a server, concurrent workers sending generated requests, then the checks. */
import assert from "node:assert/strict";
import { startServer } from "../server.ts";
import { md5, randomBytes } from "../uploads.ts";
import { assertSentinelsIntact, assertStoreLayout, filesOutside } from "./check.ts";
import { KiB, OCTETS, REPO, SECRET, WORKERS } from "./constants.ts";
import type { FuzzRequest } from "./gen.ts";
import { generate } from "./generate.ts";
import { sendFetch, sendRaw } from "./send.ts";
import { addressedSentinel, effectiveMethod } from "./sentinels.ts";
import { makeUpload, request, setUp } from "./world.ts";

interface RunOptions {
  label: string;
  seed: number;
  /** Every one of them is sent: a fixed count, not a time budget, so load can't change the test. */
  requests: number;
  auth: boolean;
}

export async function fuzz({ label, seed, requests, auth }: RunOptions): Promise<void> {
  await using server = await startServer({
    maxSize: "1MiB",
    args: ["--idle-timeout", "2s", ...(auth ? ["--auth-secret", SECRET] : [])],
  });
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const world = await setUp(server, auth);
  const outsideBefore = await filesOutside(server.root, "/data");
  const repoBefore = await filesOutside(REPO, "/.git");

  const counts = new Map<string, number>();
  const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const shapes = new Map<string, number>();
  const failures: string[] = [];
  const describe = (req: FuzzRequest) =>
    `#${req.index} ${req.via} ${JSON.stringify(req.method.slice(0, 40))} ${
      JSON.stringify(req.path.slice(0, 80))
    } body=${req.bodyMode}/${req.body?.length ?? 0} headers=${
      JSON.stringify(req.headers.map(([k, v]) => [k, v.slice(0, 60)]))
    }`;

  const started = performance.now();
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < requests) {
      const req = generate(world, seed, next++);
      for (const shape of [req.via, `body:${req.bodyMode}`]) {
        shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
      }
      const outcome = req.via === "raw"
        ? await sendRaw(server, req)
        : await sendFetch(server, client, req);
      sent++;
      if (outcome.kind !== "response") {
        bump(outcome.kind);
        if (outcome.kind === "timeout" || !req.mayDrop) {
          failures.push(`${outcome.kind}: ${outcome.error.slice(0, 200)} for ${describe(req)}`);
        }
        continue;
      }
      const { status, headers, text } = outcome;
      bump(String(status));
      if (Deno.env.get("FUZZ_DEBUG") === String(status)) {
        console.log(`${status} ${text.slice(0, 150)} <- ${describe(req)}`);
      }
      if (status >= 500 && !(status === 503 && headers.get("retry-after"))) {
        failures.push(`${status} ${text.slice(0, 200)} for ${describe(req)}`);
      }
      const effective = effectiveMethod(req);
      if (
        req.asBob && effective !== "OPTIONS" &&
        addressedSentinel(world, req.path) &&
        ((status >= 200 && status < 400) || [409, 410, 423, 460].includes(status) ||
          headers.has("upload-offset"))
      ) {
        failures.push(`Bob learnt about Alice's upload (${status}) with ${describe(req)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const elapsed = performance.now() - started;

  const byStatus = Object.fromEntries([...counts.entries()].sort());
  console.log(
    `fuzz ${label} (seed ${seed}): ${sent} requests in ${(elapsed / 1000).toFixed(1)} s; ` +
      `by status ${JSON.stringify(byStatus)}; ` +
      `shapes ${JSON.stringify(Object.fromEntries([...shapes.entries()].sort()))}`,
  );

  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad answers`);
  assert.equal(sent, requests);
  assert.equal(server.exited, false, `the server died\n${server.stderr}`);
  assert.doesNotMatch(server.stderr, /response failed|Uncaught|panicked|"level":"error"/);
  await assertSentinelsIntact(world);
  assert.deepEqual(await filesOutside(server.root, "/data"), outsideBefore, "files beside --dir");
  assert.deepEqual(await filesOutside(REPO, "/.git"), repoBefore, "files in the repository");
  await assertStoreLayout(server.dir);

  // A normal upload still goes through from start to end.
  const source = randomBytes(300 * KiB + 1, seed);
  const path = await makeUpload(world, { "Upload-Length": String(source.length) });
  const half = 150 * KiB;
  for (const [from, to] of [[0, half], [half, source.length]] as const) {
    const res = await request(world, "PATCH", path, {
      "Content-Type": OCTETS,
      "Upload-Offset": String(from),
    }, source.slice(from, to));
    assert.equal(res.status, 204, res.text);
  }
  const all = { ...(world.alice ? { Authorization: `Bearer ${world.alice}` } : {}) };
  const got = await fetch(server.origin + path, { headers: all });
  assert.equal(got.status, 200);
  assert.equal(md5(new Uint8Array(await got.arrayBuffer())), md5(source));
  assert.equal(server.exited, false);
}
