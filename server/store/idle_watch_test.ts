import assert from "node:assert/strict";
import { IdleWatch } from "./idle_watch.ts";

/** An IdleWatch on a clock the test moves. */
function watched(idleMs: number, minRate: number) {
  let now = 0;
  const watch = new IdleWatch(idleMs, minRate, () => now);
  return {
    watch,
    get now() {
      return now;
    },
    /** Moves the clock by `ms`. */
    pass(ms: number) {
      now += ms;
    },
    /** Ticks until `until` (ms); returns the time of the first tick that found it too slow. */
    run(until: number, each?: (now: number) => void): number | undefined {
      while (now + watch.tickMs <= until) {
        now += watch.tickMs;
        each?.(now);
        if (watch.tick()) return now;
      }
      return undefined;
    },
  };
}

Deno.test("silence counts from the last byte, to the millisecond", () => {
  const w = watched(5000, 1024);
  // Plenty arrives for 4 s, then nothing: a per-window check would cut this only at 10 s.
  w.run(4000, () => w.watch.received(100_000));
  assert.equal(w.watch.silenceLeft(), 5000);
  w.pass(4999);
  assert.equal(w.watch.silenceLeft(), 1);
  w.pass(1);
  assert.equal(w.watch.silenceLeft(), 0);
});

Deno.test("a body silent from the start has the whole timeout", () => {
  const w = watched(2000, 0);
  w.pass(1500);
  assert.equal(w.watch.silenceLeft(), 500);
});

Deno.test("time spent on the sink doesn't count as silence", () => {
  const w = watched(1000, 0);
  w.watch.received(10);
  w.watch.sinking = true;
  w.pass(5000);
  assert.equal(w.watch.silenceLeft(), 1000, "never silent while the sink is busy");
  w.watch.sinking = false;
  w.pass(400);
  assert.equal(w.watch.silenceLeft(), 600, "silence counts from the sink's end");
});

Deno.test("a drip below the minimum rate is cut within a tick of a window; one at it is not", () => {
  // 1,000 bytes/s over 1 s: at least 1,000 bytes in any second.
  const slow = watched(1000, 1000);
  const cut = slow.run(10_000, () => slow.watch.received(40)); // 800 bytes/s
  assert.ok(cut !== undefined && cut <= 1000 + slow.watch.tickMs, `cut at ${cut}`);

  const steady = watched(1000, 1000);
  assert.equal(steady.run(10_000, () => steady.watch.received(50)), undefined); // 1,000 bytes/s
});

Deno.test("a burst then a drip is cut once the burst leaves the window, not before", () => {
  const w = watched(1000, 1000);
  w.watch.received(100_000);
  const cut = w.run(10_000, () => w.watch.received(1));
  assert.ok(cut !== undefined && cut >= 1000 && cut <= 1000 + 2 * w.watch.tickMs, `at ${cut}`);
});

Deno.test("a window with the sink busy isn't held against the rate", () => {
  const w = watched(1000, 1000);
  w.watch.sinking = true;
  assert.equal(w.run(5000), undefined, "never cut while the sink is busy");
  w.watch.sinking = false;
  const since = w.now;
  const cut = w.run(10_000);
  assert.ok(cut !== undefined && cut - since >= 1000, `cut ${cut! - since} ms after the sink`);
});

Deno.test("the tick is a twentieth of the timeout, at most a second", () => {
  assert.equal(new IdleWatch(2000, 0).tickMs, 100);
  assert.equal(new IdleWatch(60_000, 0).tickMs, 1000);
});

Deno.test("started, it cuts a silent body once, after the timeout", async () => {
  const watch = new IdleWatch(50, 0);
  const started = performance.now();
  let cuts = 0;
  const cut = Promise.withResolvers<number>();
  watch.start(() => {
    cuts++;
    cut.resolve(performance.now() - started);
  });
  const after = await cut.promise;
  assert.ok(after >= 49, `cut after ${after} ms`);
  assert.equal(cuts, 1);
  watch.stop();
});
