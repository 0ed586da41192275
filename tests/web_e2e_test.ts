/**
 * The upload page in a real browser: headless Chromium (Debian's) driven by playwright-core,
 * against the real server process. Files are picked with the page's own file input; the server's
 * stored bytes, its HEAD answers and its metrics are the evidence. Skipped, with the reason in
 * the test name, only when no Chromium is installed. The finished state is saved as a screenshot
 * in `test-artifacts/`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Page, Route } from "playwright-core";
import { signJwt } from "../lib/jwt.ts";
import {
  ARTIFACTS,
  browserTest,
  chromiumMissing,
  launchBrowser,
  type WatchedPage,
} from "./helpers/browser.ts";
import { RawConnection } from "./helpers/raw_http.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { md5, randomBytes } from "./helpers/uploads.ts";
import { waitFor, withDeadline } from "./helpers/wait.ts";

const missing = chromiumMissing();
if (missing) console.warn(`NOTICE: the upload page's browser tests are skipped: ${missing}`);

const MiB = 1024 * 1024;
const CHUNK = 8 * MiB; // the page uses the core's default chunk size
/**
 * How long a step that sends and hashes chunks in the browser may take. Generous: with the CPU
 * shared by other jobs an 8 MiB chunk has taken 20 s; these deadlines only stop a hung test.
 */
const SLOW_MS = 180_000;

/** A temporary directory of test files, removed on disposal. */
async function tempFiles() {
  const dir = await Deno.makeTempDir({ prefix: "resumable-web-" });
  return {
    dir,
    async write(name: string, bytes: Uint8Array): Promise<string> {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      return path;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function openPage(watched: WatchedPage, server: TestServer): Promise<Page> {
  const { page } = watched;
  await page.goto(`${server.origin}/`);
  await page.waitForSelector("html[data-ready=true]");
  return page;
}

/** The row of a file on the page. */
const row = (page: Page, name: string) => page.locator(`li.upload[data-name="${name}"]`);

/** Waits until a file's row is in `state`; a row that failed instead fails the test at once. */
async function waitForState(page: Page, name: string, state: string, timeoutMs = SLOW_MS) {
  const r = row(page, name);
  const reached = await waitFor(async () => {
    const now = await r.getAttribute("data-state", { timeout: 1000 }).catch(() => null);
    return now === state || (now === "failed" && state !== "failed") ? now : undefined;
  }, {
    timeoutMs,
    intervalMs: 50,
    message: () => `${name} to reach state ${state}`,
  }).catch((error) => String(error));
  if (reached !== state) {
    const status = await r.locator(".status").textContent().catch(() => "?");
    throw new Error(`${name} did not reach ${state}: ${reached}; its status line: ${status}`);
  }
}

/** `resumable_bytes_received_total`: the upload bytes the server stored since it started. */
async function bytesReceived(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.origin}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^resumable_bytes_received_total(?:\{[^}]*\})? (\d+)$/gm)) {
    total += Number(m[1]);
  }
  return total;
}

/** What the page remembers for resuming (its localStorage records). */
function resumeRecords(page: Page): Promise<{ url: string; size: number; path?: string }[]> {
  return page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith("resumable:upload:"))
      .map((k) => JSON.parse(localStorage.getItem(k)!))
  );
}

/**
 * Holds the `n`th PATCH of the page in the browser (never sent) until released, so a test can act
 * while an upload is mid-way at a known offset: (n − 1) chunks stored.
 */
async function holdPatch(page: Page, n: number) {
  let patches = 0;
  const held = Promise.withResolvers<Route>();
  await page.route(/\/files\/[0-9a-f]{32}$/, async (route) => {
    if (route.request().method() === "PATCH" && ++patches === n) {
      held.resolve(route);
      return;
    }
    await route.continue();
  });
  return {
    /**
     * Resolves with the held request once the page sent it: after (n − 1) chunks are hashed and
     * stored, which on a busy machine takes tens of seconds (a deadline, not a synchronisation).
     */
    held: () => withDeadline(held.promise, SLOW_MS, `PATCH #${n} of the page`),
    /** Stops intercepting; the held request is dropped (the page has aborted it by then). */
    async release() {
      await page.unrouteAll({ behavior: "ignoreErrors" });
      await held.promise.then((r) => r.abort()).catch(() => {});
    },
  };
}

/** Presses Tab until `selector` has the focus (at most `max` times), as a keyboard user would. */
async function tabTo(page: Page, selector: string, max = 15): Promise<void> {
  for (let i = 0; i < max; i++) {
    const focused = `document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`;
    if (await page.evaluate(focused)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}

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
    assert.equal(
      await r.locator("progress").evaluate((p) => (p as unknown as { value: number }).value),
      bytes.length,
    );
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
