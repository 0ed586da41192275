/**
 * The page's progress on a slow link, in a real browser (headless Chromium driven by
 * playwright-core) against the real server process behind a TCP proxy: bytes sent move within a
 * chunk before the server has saved any, the speed and time left go once nothing moves, and the
 * upload then ends verified. The bar while bytes are sent and none saved is saved as a screenshot in
 * `test-artifacts/`. Skipped, with the reason in the test name, only when no Chromium is
 * installed.
 */
import assert from "node:assert/strict";
import { ARTIFACTS, browserTest, launchBrowser } from "./helpers/browser.ts";
import { startServer } from "./helpers/server.ts";
import { TcpProxy } from "./helpers/tcp_proxy.ts";
import { md5, randomBytes } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";
import {
  CHUNK,
  MiB,
  openPage,
  row,
  sha256Hex,
  SLOW_MS,
  tempFiles,
  waitForState,
} from "./helpers/web_page.ts";

Deno.test({
  ...browserTest(
    "the page shows bytes sent within a chunk before the server saves any, no speed once nothing moves, then a verified end",
  ),
  async fn() {
    await using server = await startServer();
    await using proxy = TcpProxy.start({ target: server });
    await using files = await tempFiles();
    const bytes = randomBytes(4 * MiB, 21);
    assert.ok(bytes.length < CHUNK, "one chunk: the server saves nothing until all of it is in");
    const path = await files.write("slow.bin", bytes);
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    // The page comes through the proxy, and so do its uploads.
    const page = await openPage(watched, proxy);

    // The link carries 1 MiB more and then nothing: the one PATCH stays mid-body, unanswered.
    proxy.holdUpstreamAfter(MiB);
    await page.setInputFiles("#files", path);
    const r = row(page, "slow.bin");
    // Read in one go, so the figures are of one moment.
    type Styled = { dataset: Record<string, string>; style: { width: string } };
    const figures = () =>
      r.evaluate((li) => {
        const el = (selector: string) => li.querySelector(selector) as unknown as Styled;
        const { dataset } = li as unknown as Styled;
        return {
          sent: Number(dataset.sent),
          acknowledged: Number(dataset.acknowledged),
          sentWidth: parseFloat(el(".bar .sent").style.width),
          savedWidth: parseFloat(el(".bar .saved").style.width),
          words: li.querySelector(".done")?.textContent ?? "",
        };
      });
    const seen = await waitFor(async () => {
      const now = await figures();
      return now.sent > 0 && now.acknowledged === 0 ? now : undefined;
    }, { timeoutMs: SLOW_MS, message: "the page to show bytes sent before any are saved" });
    assert.ok(seen.sent <= bytes.length);
    assert.ok(seen.sentWidth > 0 && seen.savedWidth === 0, JSON.stringify(seen));
    assert.match(seen.words, /^\d+% sent \d[\d.]* (KiB|MiB) of 4\.00 MiB, saved 0 B$/);
    assert.equal(await r.getAttribute("data-state"), "uploading");
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}web-upload-sent-not-saved.png` });

    // Nothing moves now: the speed falls to nothing and the time left goes (the window is 5 s).
    await waitFor(
      async () =>
        (await r.locator(".speed").textContent()) === "" &&
        (await r.locator(".eta").textContent()) === "",
      { timeoutMs: 30_000, message: "no speed and no time left while nothing is sent" },
    );
    assert.equal((await figures()).acknowledged, 0, "still nothing saved: the PATCH is held");

    // The connection is cut: the page resumes from what the server saved, to a verified end.
    proxy.cutAll();
    await waitForState(page, "slow.bin", "done");
    assert.equal(await r.getAttribute("data-acknowledged"), String(bytes.length));
    assert.equal(await r.locator(".sha256").textContent(), sha256Hex(bytes));
    const url = (await r.locator(".result a").textContent())!;
    const id = new URL(url).pathname.split("/").pop()!;
    assert.equal(md5(await Deno.readFile(server.dataPath(id))), md5(bytes));
    // Reports of failed requests are expected (the cut one; Chrome may resend it, answered 409):
    // nothing else.
    assert.deepEqual(
      watched.errors.filter((e) => !/^console: Failed to load resource/.test(e)),
      [],
    );
  },
});
