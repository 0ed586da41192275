/**
 * The tables of bench/e2e.ts: per row the median, min and max over the reps, the paired ratios to
 * its peer and limit, peak RSS, server and client CPU; failed rows as FAILED with why; then the
 * targets.
 */
import { formatBytes } from "../../lib/units.ts";
import type { Env, Row, Sample } from "./row.ts";
import { median } from "./stats.ts";
import { targetsTable } from "./targets.ts";

export type Outcome = { ok: true; sample: Sample } | { ok: false; error: string };

/** A figure with three significant digits at most. */
export const fmt = (n: number) => n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
/** KiB as whole MiB ("" when not measured). */
export const mib = (kib: number | undefined) => kib === undefined ? "" : (kib / 1024).toFixed(0);

/** Rep-by-rep ratios of a row to a reference (the smallest of `refs`), and their median. */
function pairedRatio(
  results: Map<string, Outcome[]>,
  key: string,
  refs: string[],
): string {
  const r = pairedMedian(results, key, refs);
  return r === undefined ? "" : `${r.toFixed(2)}×`;
}

function pairedMedian(
  results: Map<string, Outcome[]>,
  key: string,
  refs: string[],
): number | undefined {
  const mine = results.get(key) ?? [];
  const ratios: number[] = [];
  for (let i = 0; i < mine.length; i++) {
    const m = mine[i];
    const others = refs.map((r) => results.get(r)?.[i]);
    if (!m?.ok || others.some((o) => !o?.ok)) continue;
    const ref = Math.min(...others.map((o) => (o as { sample: Sample }).sample.value));
    ratios.push(m.sample.value / ref);
  }
  return ratios.length === 0 ? undefined : median(ratios);
}

/** The median CPU seconds of one side over the reps ("" when not measured). */
function cpuCell(samples: Sample[], side: "serverCpu" | "clientCpu"): string {
  return samples.some((s) => s[side]) ? fmt(median(samples.map((s) => s[side] ?? 0))) : "";
}

export interface Report {
  tables: string;
  notes: string[];
}

export function report(results: Map<string, Outcome[]>, rows: Row[], env: Env): Report {
  const notes: string[] = [];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  /** Cells: median, min, max, ÷ peer, ÷ limit, server RSS, client RSS, server CPU, client CPU. */
  const summary = (row: Row): string[] => {
    const outcomes = results.get(row.key) ?? [];
    const ok = outcomes.flatMap((o) => o.ok ? [o.sample] : []);
    const failed = outcomes.flatMap((o, i) => o.ok ? [] : [`rep ${i + 1}: ${o.error}`]);
    const serverPeak = Math.max(...ok.map((s) => s.server ?? 0));
    const clientPeak = Math.max(...ok.map((s) => s.client ?? 0));
    const rss = [serverPeak > 0 ? mib(serverPeak) : "", clientPeak > 0 ? mib(clientPeak) : ""];
    if (failed.length > 0) {
      notes.push(`**${row.label}** FAILED in ${failed.length}/${outcomes.length} reps:`);
      for (const f of failed) notes.push(`  - ${f}`);
      if (ok.length > 0) {
        notes.push(
          `  - (the reps that passed: ${ok.map((s) => fmt(s.value)).join(", ")}; not reported)`,
        );
      }
      return [`FAILED (${failed.length}/${outcomes.length})`, "", "", "", "", ...rss, "", ""];
    }
    const values = ok.map((s) => s.value);
    return [
      `**${fmt(median(values))}**`,
      fmt(Math.min(...values)),
      fmt(Math.max(...values)),
      row.peer ? pairedRatio(results, row.key, [row.peer]) : "",
      row.limit ? `${pairedRatio(results, row.key, row.limit)} ${row.limitLabel}` : "",
      ...rss,
      cpuCell(ok, "serverCpu"),
      cpuCell(ok, "clientCpu"),
    ];
  };
  const big = rows.filter((r) => r.section !== "small");
  const small = rows.filter((r) => r.section === "small");
  const out: string[] = [];
  if (big.length > 0) {
    out.push(
      `${formatBytes(env.size)} file, MB/s = 10^6 bytes/s; RSS = peak (VmHWM), max over reps, MiB`,
      "",
      line([
        "row",
        "MB/s median",
        "min",
        "max",
        "÷ peer",
        "÷ limit (which)",
        "server RSS",
        "client RSS",
        "server CPU s",
        "client CPU s",
      ]),
      line(Array(10).fill("---")),
      ...big.map((row) => line([row.label, ...summary(row)])),
    );
  }
  if (small.length > 0) {
    out.push(
      "",
      `${env.smallCount} uploads of ${formatBytes(env.smallSize)}, creation-with-upload, ` +
        `${env.concurrency} in flight`,
      "",
      line(["server", "uploads/s median", "min", "max", "÷ peer", "server RSS", "client RSS"]),
      line(Array(7).fill("---")),
      ...small.map((row) => {
        const [median, min, max, peer, _limit, server, client] = summary(row);
        return line([row.label, median!, min!, max!, peer!, server!, client!]);
      }),
    );
  }
  const peakOf = (key: string, side: "server" | "client") => {
    const ok = (results.get(key) ?? []).flatMap((o) => o.ok ? [o.sample[side] ?? 0] : []);
    return ok.length ? Math.max(...ok) / 1024 : undefined;
  };
  out.push(
    "",
    "Targets (paired medians of this run)",
    "",
    targetsTable((key, over) => pairedMedian(results, key, over), peakOf),
  );
  return { tables: out.join("\n"), notes };
}
