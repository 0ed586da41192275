/** What a bench/e2e.ts report says about the run: the machine, the versions, the code measured. */
import { createHash } from "node:crypto";
import { tryRun } from "./process.ts";

/**
 * What code is measured: the commit plus a digest of the uncommitted changes to what runs. Rows
 * start main.ts afresh, so an edit during the run changes what later rows measure.
 */
export async function codeState(): Promise<string> {
  const paths = ["main.ts", "server", "client", "lib"];
  const head = (await tryRun("git", ["rev-parse", "--short", "HEAD"]))?.trim() ?? "?";
  const diff = await tryRun("git", ["diff", "HEAD", "--", ...paths]) ?? "";
  const untracked = await tryRun("git", ["ls-files", "--others", "--exclude-standard", ...paths]);
  const digest = createHash("sha256").update(diff).update(untracked ?? "").digest("hex");
  return diff === "" && !untracked ? head : `${head}+dirty:${digest.slice(0, 12)}`;
}

/** The header of the report: date, command, machine, load, disk of `workRoot`, versions, code. */
export async function machine(args: string[], workRoot: string): Promise<string> {
  const first = (s: string | undefined) => (s ?? "?").trim().split("\n")[0]!;
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const cpu = /^model name\s*:\s*(.+)$/m.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
  const df = (await tryRun("df", ["-hT", workRoot]))?.trim().split("\n") ?? [];
  const git = (await tryRun("git", ["rev-parse", "--short", "HEAD"]))?.trim();
  const dirty = (await tryRun("git", ["status", "--porcelain", "--", "server", "client", "lib"]))
    ?.split("\n").filter((l) => l.trim() !== "").map((l) => l.slice(3)); // "XY path": no trim
  return [
    `- date: ${new Date().toISOString()}`,
    `- command: \`deno task bench:e2e${args.length ? " " + args.join(" ") : ""}\``,
    `- machine: ${first(await tryRun("nproc", []))} CPUs (${cpu ?? "?"}), ` +
    `${(memKiB / 1024 / 1024).toFixed(1)} GiB RAM, kernel ${first(await tryRun("uname", ["-r"]))}`,
    `- load average at start: ${
      (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ")
    } (the machine is not otherwise reserved)`,
    `- disk (work dir ${workRoot}): \`${df.at(-1)?.replace(/\s+/g, " ") ?? "?"}\``,
    `- deno ${Deno.version.deno}, ${
      first(await tryRun("curl", ["--version"])).split(" ").slice(0, 2).join(" ")
    }, ` +
    `${first(await tryRun("dd", ["--version"]))}`,
    `- code: ${git ?? "?"}${
      dirty && dirty.length ? ` + uncommitted changes in ${dirty.join(", ")}` : ""
    }`,
  ].join("\n");
}
