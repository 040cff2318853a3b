/** Prefect's rule for a queue given no priority: the first gap in 1, 2, 3 …, else one past the last. */
export function firstFreePriority(taken: number[]): number {
  const used = new Set(taken);
  let p = 1;
  while (used.has(p)) p++;
  return p;
}
