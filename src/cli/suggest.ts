/** "Did you mean" for a mistyped name: the candidates closest to it, for one-line usage errors. */

/** Edit distance (insertions, deletions, substitutions), for short names only. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidates a user most likely meant by `name`, best first (at most `max`): those
 * that contain it or that it contains ("nagle" for "nagle-delay"), then those within a
 * few typos of it. Empty when nothing is close.
 */
export function closestNames(name: string, candidates: readonly string[], max = 3): string[] {
  const n = name.toLowerCase();
  if (n === "") return [];
  const scored: [string, number][] = [];
  for (const c of candidates) {
    const l = c.toLowerCase();
    if (l.includes(n) || (n.length >= 4 && n.includes(l))) scored.push([c, 0]);
    else {
      const d = editDistance(n, l);
      if (d <= Math.max(1, Math.floor(Math.min(n.length, l.length) / 3))) scored.push([c, d]);
    }
  }
  return scored
    .sort((a, b) => a[1] - b[1] || a[0].length - b[0].length)
    .slice(0, max)
    .map(([c]) => c);
}

/** " (did you mean a or b?)", or "" when nothing is close. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const c = closestNames(name, candidates);
  return c.length === 0
    ? ""
    : `; did you mean ${c.length === 1 ? c[0] : `${c.slice(0, -1).join(", ")} or ${c.at(-1)}`}?`;
}
