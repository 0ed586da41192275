/**
 * Headless Chromium for the upload page's end-to-end tests: Debian's `chromium` package, driven
 * by `playwright-core` (no bundled browser download). `.ci/run` installs the package when it is
 * missing; where it can't be installed, the tests are skipped with a notice that says so.
 *
 *     await using browser = await launchBrowser();
 *     const page = await browser.newPage();
 */
import { type Browser, chromium, type Page } from "playwright-core";

/** The browser binary: `RESUMABLE_CHROMIUM`, else Debian's. */
export const CHROMIUM = Deno.env.get("RESUMABLE_CHROMIUM") ?? "/usr/bin/chromium";

/** Where tests leave screenshots (gitignored). */
export const ARTIFACTS = decodeURIComponent(
  new URL("../../test-artifacts/", import.meta.url).pathname,
);

/** Why browser tests can't run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return undefined;
    return `${CHROMIUM} is not a file`;
  } catch {
    return `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set RESUMABLE_CHROMIUM)`;
  }
}

export interface TestBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /** A page in a fresh context (its own localStorage), recording what a test must not see. */
  newPage(options?: { width?: number; height?: number }): Promise<WatchedPage>;
}

export interface WatchedPage {
  page: Page;
  /** Console errors (CSP violations among them) and uncaught exceptions, as text. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  return {
    browser,
    async newPage({ width = 1000, height = 800 } = {}) {
      const context = await browser.newContext({ viewport: { width, height } });
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      const watched: WatchedPage = { page, errors: [], requests: [] };
      page.on("console", (message) => {
        if (message.type() === "error") watched.errors.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => watched.errors.push(`uncaught: ${error.message}`));
      page.on("request", (request) => watched.requests.push(request.url()));
      return watched;
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  };
}

/** The test's name with a notice when Chromium is missing, and whether to ignore it. */
export function browserTest(name: string): { name: string; ignore: boolean } {
  const missing = chromiumMissing();
  return { name: missing ? `${name} (SKIPPED: ${missing})` : name, ignore: missing !== undefined };
}
