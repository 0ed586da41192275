/** The arithmetic of the benchmarks' figures. */

/** Decimal megabytes per second, as dd and curl report them. */
export const mbps = (bytes: number, seconds: number) => bytes / seconds / 1e6;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
