/**
 * The closest of some known words to a mistyped one (`--prot` → `port`), for "did you mean" hints.
 */

/** The candidate nearest to `typed` (case-insensitive; `_` counts as `-`), if it is near enough. */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  const word = typed.toLowerCase().replaceAll("_", "-");
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  // A typo, a slip or two: at most 2 edits, and fewer than a third of the word.
  if (best !== undefined && bestDistance <= Math.min(2, Math.floor(best.length / 3))) return best;
  // Or an unambiguous start of a flag (`--print` → `print-config`).
  const starts = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return starts.length === 1 ? starts[0] : undefined;
}

/** Edit distance: insertions, deletions, substitutions and swaps of neighbours (`prot`). */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2]! + 1);
      }
      row.push(d);
    }
    [before, previous] = [previous, row];
  }
  return previous[b.length]!;
}
