/** Optimal-string-alignment Damerau–Levenshtein distance (adjacent transpositions count as one edit). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i]!;
      const prev = d[i - 1]!;
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      row[j] = best;
    }
  }
  return d[rows - 1]![cols - 1]!;
}

/**
 * Suggests the full path an unknown key probably meant: the closest sibling key within distance 2 (1 for keys of
 * at most 4 characters), else a known path whose last segment equals the key.
 */
export function suggestPath(
  unknownKey: string,
  parentPath: readonly string[],
  siblings: readonly string[],
  allPaths: readonly string[],
): string | undefined {
  const key = unknownKey.toLowerCase();
  const limit = key.length <= 4 ? 1 : 2;
  let best: { name: string; distance: number } | undefined;
  for (const sibling of siblings) {
    const distance = editDistance(key, sibling);
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { name: sibling, distance };
  }
  if (best !== undefined) return [...parentPath, best.name].join('.');
  return allPaths.find((path) => path.split('.').at(-1) === key && path !== [...parentPath, key].join('.'));
}
