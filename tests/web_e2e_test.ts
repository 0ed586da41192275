/**
 * The upload page in a real browser: headless Chromium (Debian's) driven by playwright-core,
 * against the real server process: an upload to a verified end, pause and resume after a reload,
 * cancel, and the server without its page. Files are picked with the page's own file input; the
 * server's stored bytes, its HEAD answers and its metrics are the evidence. Skipped, with the
 * reason in the test name, only when no Chromium is installed. The finished state is saved as a
 * screenshot in `test-artifacts/`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ARTIFACTS, browserTest, launchBrowser } from "./helpers/browser.ts";
import { startServer } from "./helpers/server.ts";
import { md5, randomBytes } from "./helpers/uploads.ts";
import { waitFor } from "./helpers/wait.ts";
import {
  bytesReceived,
  CHUNK,
  holdPatch,
  MiB,
  openPage,
  resumeRecords,
  row,
  sha256Hex,
  SLOW_MS,
  tabTo,
  tempFiles,
  waitForState,
} from "./helpers/web_page.ts";

Deno.test("with --no-ui the real server has no page: / and the assets are 404", async () => {
  await using server = await startServer({ args: ["--no-ui"] });
  for (const path of ["/", "/ui/app.js", "/ui/hash_worker.js", "/ui/app.css"]) {
    const res = await fetch(`${server.origin}${path}`);
    await res.body?.cancel();
    assert.equal(res.status, 404, path);
  }
  const options = await fetch(`${server.origin}/files`, { method: "OPTIONS" });
  await options.body?.cancel();
  assert.equal(options.status, 204, "uploads still work");
});

Deno.test({
  ...browserTest(
    "the page uploads a 20 MiB file: verified SHA-256, the server's bytes have the same MD5, a screenshot",
  ),
  async fn() {
    await using server = await startServer();
    await using files = await tempFiles();
    const bytes = randomBytes(20 * MiB, 8);
    const path = await files.write("big.bin", bytes);
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);

    await page.setInputFiles("#files", path);
    await waitForState(page, "big.bin", "done");

    const r = row(page, "big.bin");
    assert.match((await r.locator(".status").textContent())!, /^Verified/);
    assert.equal(await r.locator(".sha256").textContent(), sha256Hex(bytes));
    assert.equal(await r.locator(".bar").getAttribute("aria-valuenow"), String(bytes.length));
    assert.equal(await r.getAttribute("data-sent"), String(bytes.length));
    const url = (await r.locator(".result a").textContent())!;
    const id = new URL(url).pathname.split("/").pop()!;
    assert.equal(md5(await Deno.readFile(server.dataPath(id))), md5(bytes));
    const head = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
    assert.equal(
      head.headers.get("repr-digest")?.match(/sha-256=:([^:]+):/)?.[1],
      createHash("sha256").update(bytes).digest("base64"),
    );
    assert.deepEqual(await resumeRecords(page), [], "a finished upload is forgotten");

    // Self-contained and CSP-clean: nothing fetched from elsewhere, no violations, no errors.
    assert.deepEqual(watched.requests.filter((u) => !u.startsWith(server.origin)), []);
    assert.deepEqual(watched.errors, []);

    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}web-upload-finished.png`, fullPage: true });
    // Readable on a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    assert.ok(
      await page.evaluate("document.documentElement.scrollWidth <= 360"),
      "no horizontal scrolling at 360 px",
    );
    await page.screenshot({ path: `${ARTIFACTS}web-upload-finished-phone.png`, fullPage: true });
  },
});

Deno.test({
  ...browserTest(
    "pause (by keyboard), reload, pick the same file: it resumes from the server's offset and sends only the rest",
  ),
  async fn() {
    await using server = await startServer();
    await using files = await tempFiles();
    const bytes = randomBytes(20 * MiB, 9);
    const path = await files.write("resume.bin", bytes);
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);

    // First leg: one chunk is stored, then the second PATCH is held and the user pauses.
    const gate = await holdPatch(page, 2);
    await page.setInputFiles("#files", path);
    await gate.held();
    await waitFor(
      async () =>
        (await row(page, "resume.bin").getAttribute("data-acknowledged")) === String(CHUNK),
      {
        timeoutMs: SLOW_MS,
        message: "the first chunk to be acknowledged on the page",
      },
    );
    await tabTo(page, "button.pause");
    await page.keyboard.press("Enter");
    await waitForState(page, "resume.bin", "paused");
    await gate.release();
    const firstLeg = await bytesReceived(server);
    assert.equal(firstLeg, CHUNK);
    const [record] = await resumeRecords(page);
    assert.equal(record?.size, bytes.length);
    assert.equal(record?.path, "resume.bin");

    // Reload: the page lists the unfinished upload; choosing the file again resumes it.
    await page.reload();
    await page.waitForSelector("html[data-ready=true]");
    const offsets: string[] = [];
    page.on("request", (request) => {
      if (request.method() === "PATCH") offsets.push(request.headers()["upload-offset"] ?? "?");
    });
    assert.match((await page.locator("#unfinished").textContent())!, /resume\.bin/);
    assert.equal(await page.locator("li.upload").count(), 0);
    await page.setInputFiles("#files", path);
    await waitForState(page, "resume.bin", "done");

    const r = row(page, "resume.bin");
    assert.equal(await r.getAttribute("data-resumed-at"), String(CHUNK));
    assert.deepEqual(
      offsets,
      [String(CHUNK), String(2 * CHUNK)],
      "PATCHes from the server's offset",
    );
    assert.match((await r.locator(".status").textContent())!, /^Verified/);
    const secondLeg = (await bytesReceived(server)) - firstLeg;
    assert.equal(secondLeg, bytes.length - CHUNK);
    assert.ok(secondLeg < bytes.length, "the second leg sent fewer bytes than the file");
    const url = (await r.locator(".result a").textContent())!;
    assert.equal(url, record!.url, "the same upload, not a new one");
    const id = new URL(url).pathname.split("/").pop()!;
    assert.equal(md5(await Deno.readFile(server.dataPath(id))), md5(bytes));
    assert.equal(await r.locator(".sha256").textContent(), sha256Hex(bytes));
    assert.equal(await page.locator("#unfinished").isHidden(), true);
    assert.deepEqual(watched.errors, []);
  },
});

Deno.test({
  ...browserTest("cancel stops the upload and deletes it on the server"),
  async fn() {
    await using server = await startServer();
    await using files = await tempFiles();
    const path = await files.write("cancel.bin", randomBytes(12 * MiB, 10));
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);

    const gate = await holdPatch(page, 2);
    await page.setInputFiles("#files", path);
    const url = (await gate.held()).request().url();
    const id = new URL(url).pathname.split("/").pop()!;
    assert.equal((await Deno.stat(server.dataPath(id))).size, CHUNK); // one chunk stored so far

    await row(page, "cancel.bin").locator("button.cancel").click();
    await waitFor(
      async () =>
        /deleted/.test((await row(page, "cancel.bin").locator(".status").textContent()) ?? ""),
      { timeoutMs: 15_000, message: "the page to say the upload was deleted" },
    );
    await gate.release();
    assert.equal(await row(page, "cancel.bin").getAttribute("data-state"), "cancelled");
    const head = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
    assert.ok([404, 410].includes(head.status), `HEAD after cancel: ${head.status}`);
    // The bytes are gone (the info may stay behind as a tombstone, which is what answers 410).
    await assert.rejects(Deno.stat(server.dataPath(id)), Deno.errors.NotFound);
    assert.deepEqual(await resumeRecords(page), []);
  },
});
