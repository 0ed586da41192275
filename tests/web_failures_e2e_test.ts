/**
 * The upload page in a real browser when things go wrong: refusals (413, 415, 401), a busy
 * server, a digest that does not match, a lost connection and a PATCH that never gets an answer.
 * Headless Chromium (Debian's) driven by playwright-core, against the real server process;
 * skipped, with the reason in the test name, only when no Chromium is installed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Route } from "playwright-core";
import { signJwt } from "../lib/jwt.ts";
import { browserTest, launchBrowser } from "./helpers/browser.ts";
import { RawConnection } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { md5, randomBytes } from "./helpers/uploads.ts";
import { waitFor, withDeadline } from "./helpers/wait.ts";
import {
  CHUNK,
  holdPatch,
  MiB,
  openPage,
  resumeRecords,
  row,
  sha256Hex,
  tempFiles,
  waitForState,
} from "./helpers/web_page.ts";

Deno.test({
  ...browserTest("a file too large (413) and a type not allowed (415) are shown in plain words"),
  async fn() {
    await using server = await startServer({
      maxSize: "1MiB",
      args: ["--allow-types", "image/png"],
    });
    await using files = await tempFiles();
    const big = await files.write("too-big.bin", randomBytes(2 * MiB, 11));
    const text = await files.write(
      "notes.txt",
      new TextEncoder().encode("plain text, not a PNG\n"),
    );
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);
    await waitFor(() => page.locator("#limits").isVisible(), {
      timeoutMs: 15_000,
      message: "the size limit",
    });
    assert.equal(await page.locator("#limits").textContent(), "Files up to 1.00 MiB.");

    await page.setInputFiles("#files", [big, text]);
    await waitForState(page, "too-big.bin", "failed");
    await waitForState(page, "notes.txt", "failed");
    const big413 = row(page, "too-big.bin");
    assert.equal(await big413.getAttribute("data-status"), "413");
    assert.match(
      (await big413.locator(".status").textContent())!,
      /^This file is too large for the server\. The server said: .*maximum of 1048576 bytes/,
    );
    const text415 = row(page, "notes.txt");
    assert.equal(await text415.getAttribute("data-status"), "415");
    assert.match(
      (await text415.locator(".status").textContent())!,
      /^The server does not accept this type of file\. The server said: .*accepts only image\/png/,
    );
    assert.deepEqual(await resumeRecords(page), [], "nothing to resume after a refusal");
    assert.equal(await big413.locator("button.resume").isHidden(), true, "no Retry: it can't work");
  },
});

Deno.test({
  ...browserTest(
    "with auth on, the page asks for a token (kept in sessionStorage) and then uploads",
  ),
  async fn() {
    const secret = "web-e2e-secret-".padEnd(32, "x");
    await using server = await startServer({ args: ["--auth-secret", secret] });
    await using files = await tempFiles();
    const bytes = randomBytes(MiB + 3, 12);
    const path = await files.write("auth.bin", bytes);
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);
    assert.equal(await page.locator("#token").isVisible(), true, "the token field is shown");

    await page.setInputFiles("#files", path);
    await waitForState(page, "auth.bin", "failed");
    assert.match((await row(page, "auth.bin").locator(".status").textContent())!, /access token/);

    await page.fill("#token", await signJwt({ sub: "alice" }, secret));
    assert.match(await page.evaluate(() => sessionStorage.getItem("resumable:token") ?? ""), /^ey/);
    await row(page, "auth.bin").locator("button.resume").click();
    await waitForState(page, "auth.bin", "done");
    assert.equal(await row(page, "auth.bin").locator(".sha256").textContent(), sha256Hex(bytes));
  },
});

Deno.test({
  ...browserTest("a busy server (503) shows a countdown from Retry-After, then the upload goes on"),
  async fn() {
    await using server = await startServer({ args: ["--max-active", "1"] });
    // Hold the only body slot with a PATCH that sends a little and then stays silent.
    const created = await fetch(server.url, {
      method: "POST",
      headers: { "Upload-Length": "1000" },
    });
    await created.body?.cancel();
    const location = new URL(created.headers.get("location")!, server.url);
    const slow = await RawConnection.connect(server.url);
    await slow.sendHead("PATCH", location.pathname, {
      "Content-Length": "1000",
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": "0",
    });
    await slow.write(new Uint8Array(10));
    await waitFor(async () => {
      const text = await (await fetch(`${server.origin}/metrics`)).text();
      return /^resumable_active_request_bodies 1$/m.test(text);
    }, { timeoutMs: 15_000, message: "the slow PATCH to hold the slot" });

    await using files = await tempFiles();
    const path = await files.write("busy.bin", randomBytes(MiB, 13));
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);
    await page.setInputFiles("#files", path);
    const status = row(page, "busy.bin").locator(".status");
    await waitFor(
      async () => /^The server is busy; retrying in \d+ s/.test((await status.textContent()) ?? ""),
      {
        timeoutMs: 15_000,
        message: "the busy countdown",
      },
    );
    assert.equal(await row(page, "busy.bin").getAttribute("data-retry-status"), "503");
    slow.close();
    await waitForState(page, "busy.bin", "done", 30_000);
  },
});

Deno.test({
  ...browserTest("the page says 'verified' only when the server's digest matches its own SHA-256"),
  async fn() {
    await using server = await startServer();
    await using files = await tempFiles();
    const path = await files.write("tampered.bin", randomBytes(MiB, 14));
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);
    // The server's answers reach the page with a digest of other bytes.
    const wrong = createHash("sha256").update("other bytes").digest("base64");
    await page.route(/\/files\/[0-9a-f]{32}$/, async (route) => {
      const response = await route.fetch();
      const headers = response.headers();
      if (headers["repr-digest"]) headers["repr-digest"] = `sha-256=:${wrong}:`;
      await route.fulfill({ response, headers });
    });
    await page.setInputFiles("#files", path);
    await waitForState(page, "tampered.bin", "failed");
    const status = (await row(page, "tampered.bin").locator(".status").textContent())!;
    assert.match(status, /^Verification failed/);
    assert.doesNotMatch(status, /Verified/);
  },
});

Deno.test({
  ...browserTest("right after a reconnect the page shows no speed and no time left"),
  async fn() {
    await using server = await startServer();
    await using files = await tempFiles();
    const path = await files.write("reconnect.bin", randomBytes(2 * CHUNK + MiB, 15));
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    const page = await openPage(watched, server);
    // Two chunks go through; the third PATCH loses its connection; its retry is held.
    let patches = 0;
    const retried = Promise.withResolvers<Route>();
    await page.route(/\/files\/[0-9a-f]{32}$/, async (route) => {
      if (route.request().method() !== "PATCH") return await route.continue();
      patches++;
      if (patches === 3) return await route.abort("connectionreset");
      if (patches === 4) return retried.resolve(route);
      await route.continue();
    });
    await page.setInputFiles("#files", path);
    const r = row(page, "reconnect.bin");
    // Generous: the page hashes each chunk (JavaScript SHA-256 and MD5) before it sends it.
    const held = await withDeadline(retried.promise, 120_000, "the retried PATCH");
    assert.equal(await r.getAttribute("data-acknowledged"), String(2 * CHUNK));
    assert.equal(await r.getAttribute("data-retry-status"), "network");
    assert.equal(await r.locator(".eta").textContent(), "", "no time left from stale samples");
    assert.equal(await r.locator(".speed").textContent(), "", "no speed from stale samples");
    await held.continue();
    await waitForState(page, "reconnect.bin", "done");
    // The one error is the browser's report of the connection that was reset on purpose.
    const errors = watched.errors.filter((e) => !/ERR_CONNECTION_RESET/.test(e));
    assert.deepEqual(errors, [], String(watched.errors));
  },
});

Deno.test({
  ...browserTest(
    "a PATCH that never gets an answer is cut by the page's own deadline, and the upload resumes to a verified end",
  ),
  async fn() {
    await using server = await startServer();
    await using files = await tempFiles();
    const bytes = randomBytes(MiB + 3, 15);
    const path = await files.write("silent.bin", bytes);
    await using browser = await launchBrowser();
    const watched = await browser.newPage();
    // The page's timers run on a clock the test can move on: no test waits out the real deadline.
    await watched.page.clock.install();
    const page = await openPage(watched, server);
    const hold = await holdPatch(page, 1);
    try {
      await page.setInputFiles("#files", path);
      await hold.held();
      // The held PATCH carries 1 MiB + 3 bytes: 30 s for the answer plus 30 s per started MiB.
      await page.clock.fastForward("02:00");
      await waitFor(() => row(page, "silent.bin").getAttribute("data-retry-status"), {
        timeoutMs: 15_000,
        message: "the page to cut the unanswered PATCH and retry",
      });
      assert.equal(await row(page, "silent.bin").getAttribute("data-retry-status"), "network");
      await waitForState(page, "silent.bin", "done");
    } finally {
      await hold.release();
    }
    const r = row(page, "silent.bin");
    assert.equal(await r.locator(".sha256").textContent(), sha256Hex(bytes));
    const id = new URL((await r.locator(".result a").textContent())!).pathname.split("/").pop()!;
    assert.equal(md5(await Deno.readFile(server.dataPath(id))), md5(bytes));
  },
});
