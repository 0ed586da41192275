/**
 * The documentation's own checks: every relative link in README.md and docs/*.md resolves to a file
 * inside the repository (and its #anchor to a heading there), and no table cell is a wall of text.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LONGEST_CELL = 200;

function pages(): string[] {
  const docs = [...Deno.readDirSync(join(ROOT, "docs"))]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => join(ROOT, "docs", e.name));
  return [join(ROOT, "README.md"), ...docs];
}

/** The lines of a Markdown text outside fenced code blocks, with inline code blanked out. */
function prose(text: string, blankCode = true): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    if (fenced) return "";
    return blankCode ? line.replace(/`[^`]*`/g, "``") : line;
  });
}

/** GitHub's anchors for the headings of a Markdown text. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text, false)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The relative link targets of a Markdown text (`[text](target)`), code excluded. */
export function relativeLinks(text: string): string[] {
  // Inline code is blanked: a link whose text is code (`[`x`](x)`) keeps its target.
  const lines = prose(text);
  const links: string[] = [];
  for (const match of lines.join("\n").matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1]!;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
  }
  return links;
}

Deno.test("every relative link in README.md and docs/*.md resolves inside the repository", async () => {
  const broken: string[] = [];
  for (const page of pages()) {
    const text = await Deno.readTextFile(page);
    for (const link of relativeLinks(text)) {
      const [path = "", anchor] = link.split("#", 2);
      const target = path === "" ? page : resolve(dirname(page), decodeURIComponent(path));
      const where = `${relative(ROOT, page)}: ${link}`;
      if (relative(ROOT, target).startsWith("..")) {
        broken.push(`${where} (outside the repository)`);
        continue;
      }
      let targetText: string;
      try {
        const info = await Deno.stat(target);
        if (!info.isFile || anchor === undefined) continue;
        targetText = await Deno.readTextFile(target);
      } catch {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (!anchors(targetText).has(anchor)) broken.push(`${where} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("no table cell in README.md or docs/*.md is longer than 200 characters", async () => {
  const long: string[] = [];
  for (const page of pages()) {
    prose(await Deno.readTextFile(page)).forEach((line, i) => {
      if (!line.trimStart().startsWith("|")) return;
      for (const cell of line.split(/(?<!\\)\|/)) {
        if (cell.trim().length > LONGEST_CELL) {
          long.push(`${relative(ROOT, page)}:${i + 1}: ${cell.trim().length} characters`);
        }
      }
    });
  }
  assert.deepEqual(long, []);
});

Deno.test("the link checker finds broken links, anchors and links that leave the repository", () => {
  const text =
    "# A Title\n\n## Same\n\n## Same\n\nSee [x](other.md#a-title) and `[y](no.md)`.\n\n" +
    "```\n[z](code.md)\n```\n[w](https://example.com) [v](#same-1)\n\n## Not `@x/y` here";
  assert.deepEqual(relativeLinks(text), ["other.md#a-title", "#same-1"]);
  assert.deepEqual([...anchors(text)], ["a-title", "same", "same-1", "not-xy-here"]);
});
