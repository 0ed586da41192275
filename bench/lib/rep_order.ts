/**
 * The order of the rows in each repetition. A row's speed here depends on the row before it: after
 * a peer's unsynced 512 MiB was written and deleted, the next server's copies into the page cache
 * cost more (measured in bench/RESULTS.md, round 8). In one fixed order the same row always pays
 * for the same predecessor; repetition `rep` (from 1) visits the rows at the `rep`-th stride
 * coprime with their count, so each row follows a different one in every repetition (until the
 * strides run out and start again), and rep 1 keeps the order given.
 */
export function repOrder<T>(rows: readonly T[], rep: number): T[] {
  const n = rows.length;
  const strides: number[] = [];
  for (let s = 1; s < Math.max(2, n); s++) if (gcd(s, n) === 1) strides.push(s);
  const stride = strides[(rep - 1) % strides.length]!;
  return rows.map((_, i) => rows[(i * stride) % n]!);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
