/**
 * Driving the upload page in the browser tests: opening it on a test server, picking files from a
 * temporary directory, waiting for a file's row to reach a state, holding a PATCH, and reading
 * what the page and the server say.
 */
import { createHash } from "node:crypto";
import type { Page, Route } from "playwright-core";
import { chromiumMissing, type WatchedPage } from "./browser.ts";
import type { TestServer } from "./server.ts";
import { waitFor, withDeadline } from "./wait.ts";

// Said once per test process, whichever browser test files import this.
const missing = chromiumMissing();
if (missing) console.warn(`NOTICE: the upload page's browser tests are skipped: ${missing}`);

export const MiB = 1024 * 1024;
export const CHUNK = 8 * MiB; // the page uses the core's default chunk size
/**
 * How long a step that sends and hashes chunks in the browser may take. Generous: with the CPU
 * shared by other jobs an 8 MiB chunk has taken 20 s; these deadlines only stop a hung test.
 */
export const SLOW_MS = 180_000;

/** A temporary directory of test files, removed on disposal. */
export async function tempFiles() {
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

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Opens the page at `via`: the server, or a proxy in front of it (then uploads go through it). */
export async function openPage(watched: WatchedPage, via: { origin: string }): Promise<Page> {
  const { page } = watched;
  await page.goto(`${via.origin}/`);
  await page.waitForSelector("html[data-ready=true]");
  return page;
}

/** The row of a file on the page. */
export const row = (page: Page, name: string) => page.locator(`li.upload[data-name="${name}"]`);

/** Waits until a file's row is in `state`; a row that failed instead fails the test at once. */
export async function waitForState(page: Page, name: string, state: string, timeoutMs = SLOW_MS) {
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
export async function bytesReceived(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.origin}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^resumable_bytes_received_total(?:\{[^}]*\})? (\d+)$/gm)) {
    total += Number(m[1]);
  }
  return total;
}

/** What the page remembers for resuming (its localStorage records). */
export function resumeRecords(page: Page): Promise<{ url: string; size: number; path?: string }[]> {
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
export async function holdPatch(page: Page, n: number) {
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
export async function tabTo(page: Page, selector: string, max = 15): Promise<void> {
  for (let i = 0; i < max; i++) {
    const focused = `document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`;
    if (await page.evaluate(focused)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}
