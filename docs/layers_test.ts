/**
 * The layering rules of docs/design.md, checked against the code: the pure folders never touch
 * `Deno.*`, never import a node: module that does I/O, and never import (other than for types) a
 * module of the process edge. A module that needs the runtime belongs at the edge, where the
 * handler's dependencies are built.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Folders of pure logic: they run anywhere (the client core also runs in the browser). */
export const PURE = ["lib", "server/http", "server/config", "client/core"];
/** Subfolders of a pure folder that are not pure themselves. */
const NOT_PURE = ["lib/deno"];
/** node: modules that only compute. */
const COMPUTE_ONLY = new Set(["node:crypto", "node:util", "node:assert/strict", "node:buffer"]);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...sources(path));
    else if (/(?<!_test|test_harness)\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

function isPure(path: string): boolean {
  const inside = (dir: string) => path === dir || path.startsWith(`${dir}/`);
  return PURE.some(inside) && !NOT_PURE.some(inside);
}

/** The code of a TypeScript text without its comments (strings kept). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Specifiers of value imports and re-exports (`import type` carries no code). */
export function valueImports(text: string): string[] {
  const out: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["']([^"']+)["']/gms;
  for (const m of code(text).matchAll(statement)) if (!m[2]) out.push(m[4]!);
  for (const m of code(text).matchAll(/^\s*import\s+["']([^"']+)["']/gm)) out.push(m[1]!);
  for (const m of code(text).matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Modules of the process edge: they build the handler's dependencies from the runtime. */
function isEdge(path: string): boolean {
  return /^server\/[^/]+\.ts$/.test(path) || path.startsWith("lib/deno/");
}

/** Packages that do I/O (PostgreSQL, cloud credentials). */
const IO_PACKAGES = /^(postgres|@aws-sdk\/|@smithy\/)/;

const SOURCE = new Map<string, string>();
function read(path: string): string {
  if (!SOURCE.has(path)) SOURCE.set(path, code(Deno.readTextFileSync(join(ROOT, path))));
  return SOURCE.get(path)!;
}

/** What in `path` itself needs the runtime, and the repository modules it imports for values. */
function scan(path: string): { own: string[]; imports: string[] } {
  const own: string[] = [];
  const imports: string[] = [];
  if (/\bDeno\./.test(read(path))) own.push("uses Deno.*");
  for (const spec of valueImports(read(path))) {
    if (spec.startsWith("node:") && !COMPUTE_ONLY.has(spec)) own.push(`imports ${spec}`);
    else if (IO_PACKAGES.test(spec)) own.push(`imports ${spec}`);
    else if (spec.startsWith(".") && /\.ts$/.test(spec)) {
      imports.push(relative(ROOT, resolve(dirname(join(ROOT, path)), spec)));
    }
  }
  return { own, imports };
}

/**
 * Why a pure module isn't: its own use of the runtime, an import of the process edge, or an
 * import (through any number of modules) that reaches the runtime.
 */
function violations(path: string): string[] {
  const found = scan(path).own.map((why) => `${path} ${why}`);
  for (const target of scan(path).imports) {
    if (isEdge(target)) {
      found.push(`${path} imports ${target}, of the process edge`);
      continue;
    }
    const chain = runtimeChain(target, new Set([path]));
    if (chain) found.push(`${path} reaches the runtime: ${[path, ...chain].join(" → ")}`);
  }
  return found;
}

/** The import chain from `path` to a module that uses the runtime, if there is one. */
function runtimeChain(path: string, seen: Set<string>): string[] | undefined {
  if (seen.has(path)) return undefined;
  seen.add(path);
  const { own, imports } = scan(path);
  if (own.length > 0) return [`${path} (${own[0]})`];
  for (const target of imports) {
    const chain = runtimeChain(target, seen);
    if (chain) return [path, ...chain];
  }
  return undefined;
}

Deno.test("the pure folders use no Deno.*, no I/O module and nothing of the process edge", () => {
  const files = PURE.flatMap(sources).filter(isPure);
  assert.ok(files.length > 50, `only ${files.length} pure files found: are the folders right?`);
  assert.deepEqual(files.flatMap(violations), []);
});

Deno.test("the layering check sees a Deno call, an I/O module and an edge import", () => {
  assert.deepEqual(valueImports('import { a } from "./a.ts";\nimport type { B } from "./b.ts";'), [
    "./a.ts",
  ]);
  const tmp = "server/http/__layers_probe.ts";
  Deno.writeTextFileSync(
    join(ROOT, tmp),
    'import { x } from "../cli.ts";\nimport { readFile } from "node:fs";\nDeno.exit(x);\n',
  );
  try {
    assert.deepEqual(violations(tmp), [
      `${tmp} uses Deno.*`,
      `${tmp} imports node:fs`,
      `${tmp} imports server/cli.ts, of the process edge`,
    ]);
  } finally {
    Deno.removeSync(join(ROOT, tmp));
  }
});

/** The stores' folder: they report facts (outcomes, `StoreError`s) and never decide a status. */
const STORES = "server/store";
/** What makes a status: the project's error type and its constructors. */
const STATUS_MAKERS = /\b(UploadError|toUploadError|badRequest)\b/;

Deno.test("no store decides a status: stores use no UploadError (the handler maps StoreErrors)", () => {
  const files = sources(STORES);
  assert.ok(files.length > 30, `only ${files.length} store files found: is the folder right?`);
  assert.deepEqual(files.filter((path) => STATUS_MAKERS.test(read(path))), []);
});
