/**
 * Human sizes and durations: parsed from flags ("8MiB", "1.5GB", "512"; "30s", "24h", "7d") and
 * formatted for people in one unit family, binary (KiB, MiB, MiB/s), by the CLI and the page alike.
 */

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses a size into bytes; throws RangeError with the accepted forms. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = SIZE_UNITS[m?.[2]?.toLowerCase() ?? "?"];
  const bytes = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new RangeError(
      `Invalid size ${JSON.stringify(text)}: expected a number with an optional unit ` +
        `(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)`,
    );
  }
  return bytes;
}

/** Parses a duration into milliseconds; a bare number is seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) {
    throw new RangeError(
      `Invalid duration ${
        JSON.stringify(text)
      }: expected a number with s, m, h or d (e.g. 30s, 24h)`,
    );
  }
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? "s"]!);
}

/** Formats milliseconds in the largest unit that divides them: 3600000 → "1h", 90000 → "90s". */
export function formatDuration(ms: number): string {
  const units = Object.entries(DURATION_UNITS).sort(([, a], [, b]) => b - a);
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ["ms", 1];
  return `${ms / size}${unit}`;
}

/** Formats bytes for people: "1.5 GiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[i]}`;
}

/**
 * An upload's bytes for people, as the CLI and the page show them: what was sent, then what the
 * server confirmed holding: ["37% sent 12.0 MiB of 32.0 MiB", "saved 8.00 MiB"].
 */
export function formatTransfer(sent: number, saved: number, total: number): [string, string] {
  const percent = total === 0 ? 100 : Math.floor((sent / total) * 100);
  return [
    `${percent}% sent ${formatBytes(sent)} of ${formatBytes(total)}`,
    `saved ${formatBytes(saved)}`,
  ];
}

/** Formats a transfer rate for people: "1.50 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Formats a time left for people: "45 s", "3 min 20 s", "2 h 5 min". */
export function formatTimeLeft(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
