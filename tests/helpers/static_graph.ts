/**
 * The modules a process evaluates when it starts from `entries`: their static imports, followed
 * transitively (dynamic imports load on demand, so they are left out). Read from `deno info`.
 */

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface Info {
  modules: { specifier: string; dependencies?: Dependency[] }[];
}

/** The repository's root, against which `entries` are resolved. */
export const ROOT = new URL("../../", import.meta.url);

/**
 * Every module specifier statically reachable from `entries` (paths from the root, each one
 * reached from main.ts, statically or not).
 */
export async function staticModules(entries: string[]): Promise<Set<string>> {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error("deno info failed");
  const info: Info = JSON.parse(new TextDecoder().decode(stdout));
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const loaded = new Set<string>();
  const visit = (specifier: string) => {
    if (loaded.has(specifier)) return;
    loaded.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code && !dependency.isDynamic) visit(dependency.code.specifier);
    }
  };
  for (const entry of entries) {
    const specifier = new URL(entry, ROOT).href;
    // An entry main.ts no longer reaches would be a leaf here, and the test would check nothing.
    if (!modules.has(specifier)) throw new Error(`${entry} is not in main.ts's module graph`);
    visit(specifier);
  }
  return loaded;
}
