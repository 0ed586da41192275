import assert from "node:assert/strict";
import { renderProgress } from "./progress_line.ts";

const MiB = 1024 * 1024;

Deno.test("renderProgress: saved and sent in two shades, then bytes, speed and time left", () => {
  const line = renderProgress({
    sent: 12 * MiB,
    acknowledged: 8 * MiB,
    total: 32 * MiB,
    rate: 3 * MiB,
    eta: 6.2,
  }, 100);
  assert.equal(
    line,
    "[#######===...................] " +
      "37% sent 12.0 MiB of 32.0 MiB, saved 8.00 MiB, 3.00 MiB/s, 7 s left",
  );
  assert.ok(line.length <= 99);
});

Deno.test("renderProgress: no speed and no time left when the speed is unknown or zero", () => {
  for (const rate of [undefined, 0]) {
    const line = renderProgress({ sent: MiB, acknowledged: 0, total: 4 * MiB, rate, eta: 3 }, 80);
    assert.doesNotMatch(line, /\/s|left/);
    assert.match(line, /25% sent 1\.00 MiB of 4\.00 MiB, saved 0 B$/);
  }
});

Deno.test("renderProgress: fits narrow terminals by dropping the bar, then the tail", () => {
  const figures = { sent: 12 * MiB, acknowledged: 8 * MiB, total: 32 * MiB, rate: MiB, eta: 20 };
  for (const width of [20, 40, 60, 80, 200]) {
    const line = renderProgress(figures, width);
    assert.ok(line.length <= width - 1, `${width}: ${line}`);
  }
  assert.doesNotMatch(renderProgress(figures, 60), /\[/);
  assert.match(renderProgress(figures, 200), /^\[[#=.]{40}\] /);
});

Deno.test("renderProgress: an empty file is done", () => {
  assert.match(renderProgress({ sent: 0, acknowledged: 0, total: 0 }, 80), /^\[#+\] 100% /);
});
