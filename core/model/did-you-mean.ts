// Suggestions for near-miss names in error messages (fields, timezones, commands).

/** The closest candidate by edit distance, when it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const [best, d] = closest(word, candidates, distance);
  return d <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** The candidate nearest to `word` (case-insensitive) under `dist`, and how near. */
function closest(
  word: string,
  candidates: readonly string[],
  dist: (a: string, b: string) => number,
): [string | undefined, number] {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = dist(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return [best, bestD];
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * The known name `word` is almost surely a misspelling of (one or two letters off; one for short
 * names), or undefined. Stricter than didYouMean: an unknown key that is merely similar to a known
 * one (flow_variables, job_variables) is not a typo and must not stop a deploy.
 */
export function typoOf(word: string, candidates: readonly string[]): string | undefined {
  const [best, d] = closest(word, candidates, transposing);
  return d > 0 && d <= (word.length <= 5 ? 1 : 2) ? best : undefined;
}

/** Edit distance where swapping two neighbouring letters (nmae, name) is one edit. */
function transposing(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
