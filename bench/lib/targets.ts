/**
 * The performance targets `bench/e2e.ts` checks, each a ratio of two rows measured in the same
 * run (rep by rep, then the median), or a ceiling on a measured peak. Printed with the target and
 * "met" / "not met"; a target whose rows didn't run (a peer that couldn't be built) says so.
 */

export interface RatioTarget {
  what: string;
  /** The row measured, and the row(s) it is divided by (the slowest of them, rep by rep). */
  row: string;
  over: string[];
  /** The ratio must be at least this. */
  min: number;
}

export interface CeilingTarget {
  what: string;
  /** Rows whose peak RSS (server or client) must stay at or under `maxMiB`. */
  rows: string[];
  side: "server" | "client";
  maxMiB: number;
}

export const RATIO_TARGETS: RatioTarget[] = [
  { what: "curl one PATCH → ours ÷ md5sum", row: "curl-ours", over: ["md5sum"], min: 0.8 },
  { what: "curl one PATCH → ours ÷ @tus/server", row: "curl-ours", over: ["curl-peer"], min: 1.1 },
  {
    what: "tus-js-client 8 MiB → ours ÷ → @tus/server",
    row: "tusjs-ours-8MiB",
    over: ["peer-8MiB"],
    min: 1.0,
  },
  {
    what: "tus-js-client 1 MiB → ours ÷ → @tus/server",
    row: "tusjs-ours-1MiB",
    over: ["peer-1MiB"],
    min: 0.8,
  },
  {
    what: "our client 8 MiB (default) → ours ÷ tus-js-client → ours",
    row: "ours-8MiB-default",
    over: ["tusjs-ours-8MiB"],
    min: 1.0,
  },
  {
    what: "our client 8 MiB (default) → ours ÷ tus-js-client → @tus/server",
    row: "ours-8MiB-default",
    over: ["peer-8MiB"],
    min: 0.8,
  },
  {
    what: "durable + verified: tus-js-client 8 MiB → ours ÷ tusd pipeline",
    row: "tusjs-ours-8MiB",
    over: ["tusd-pipeline-8MiB"],
    min: 2.0,
  },
  {
    what: "durable + verified: our client 8 MiB → ours ÷ tusd pipeline",
    row: "ours-8MiB-default",
    over: ["tusd-pipeline-8MiB"],
    min: 2.0,
  },
];

export const CEILING_TARGETS: CeilingTarget[] = [
  {
    what: "server peak RSS, one upload (curl, our client, tus-js-client)",
    rows: ["curl-ours", "ours-8MiB-default", "ours-0-default", "tusjs-ours-8MiB"],
    side: "server",
    maxMiB: 64,
  },
  {
    what: "client peak RSS, our client (any chunk size)",
    rows: ["ours-1MiB-default", "ours-8MiB-default", "ours-0-default", "ours-8MiB-auto"],
    side: "client",
    maxMiB: 64,
  },
];

const line = (cells: string[]) => `| ${cells.join(" | ")} |`;

/**
 * The targets table. `ratio` gives the paired median ratio of a row over references (undefined
 * when either side has no passing rep); `peak` a row's peak RSS in MiB (undefined if not run).
 */
export function targetsTable(
  ratio: (row: string, over: string[]) => number | undefined,
  peak: (row: string, side: "server" | "client") => number | undefined,
): string {
  const out = [
    line(["target", "measured", "needed", "verdict"]),
    line(Array(4).fill("---")),
  ];
  for (const t of RATIO_TARGETS) {
    const r = ratio(t.row, t.over);
    out.push(line([
      t.what,
      r === undefined ? "not measured" : `${r.toFixed(2)}×`,
      `≥ ${t.min.toFixed(1)}×`,
      r === undefined ? "—" : r >= t.min ? "met" : "not met",
    ]));
  }
  for (const t of CEILING_TARGETS) {
    const peaks = t.rows.map((r) => peak(r, t.side)).filter((p) => p !== undefined);
    const worst = peaks.length ? Math.max(...peaks) : undefined;
    out.push(line([
      t.what,
      worst === undefined ? "not measured" : `${worst.toFixed(0)} MiB`,
      `≤ ${t.maxMiB} MiB`,
      worst === undefined ? "—" : worst <= t.maxMiB ? "met" : "not met",
    ]));
  }
  return out.join("\n");
}
