/**
 * The peer: @tus/server + @tus/file-store and tus-js-client under Node, at the versions deno.json
 * pins, npm-installed into a temp dir at bench time (npm's cache makes this quick after the first
 * time). Its rows are skipped with a notice when node or npm is missing.
 */
import denoJson from "../../deno.json" with { type: "json" };
import { BENCH, run, type Scope, tryRun } from "./process.ts";
import { type Server, startServer } from "./servers.ts";

export interface Peer {
  dir: string;
  versions: Record<string, string>;
}

const PACKAGES = ["@tus/server", "@tus/file-store", "tus-js-client"] as const;

/** Installs the pinned peer packages with npm into a temp dir in `root`; a string says why not. */
export async function installPeer(root: string): Promise<Peer | string> {
  const node = await tryRun("node", ["--version"]);
  const npm = await tryRun("npm", ["--version"]);
  if (node === undefined || npm === undefined) {
    return `peer rows skipped: ${node === undefined ? "node" : "npm"} is not installed`;
  }
  const specs = PACKAGES.map((n) => denoJson.imports[n].replace(/^npm:/, ""));
  const dir = await Deno.makeTempDir({ dir: root, prefix: "peer-" });
  try {
    await run(
      "npm",
      ["install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", ...specs],
      dir,
      300_000,
    );
  } catch (error) {
    return `peer rows skipped: npm install ${specs.join(" ")} failed: ${String(error)}`;
  }
  for (const f of ["server.mjs", "client.mjs"]) {
    await Deno.copyFile(`${BENCH}/peer/${f}`, `${dir}/${f}`);
  }
  const versions: Record<string, string> = { node: node.trim(), npm: npm.trim() };
  for (const n of PACKAGES) {
    versions[n] =
      JSON.parse(await Deno.readTextFile(`${dir}/node_modules/${n}/package.json`)).version;
  }
  return { dir, versions };
}

/** @tus/server with @tus/file-store on a fresh directory of the scope. */
export async function startPeer(scope: Scope, peer: Peer): Promise<Server> {
  const dir = await scope.tempDir("peer-data-");
  return await startServer(
    scope,
    "@tus/server",
    ["node", `${peer.dir}/server.mjs`, dir],
    peer.dir,
    (id) => `${dir}/${id}`,
  );
}
