import { WeirError } from "../model/index.ts";

export interface Named {
  name: string;
  flowName: string | null;
}

/**
 * Picks deployments by name: exact `name`, `flow/name`, or a glob of either (`etl-*`, `*\/daily`).
 * With neither names nor --all, a file with one deployment selects it.
 */
export function selectDeployments<T extends Named>(
  items: T[],
  patterns: string[],
  all: boolean,
  file: string,
): T[] {
  if (all) return items;
  if (patterns.length === 0) {
    if (items.length === 1) return items;
    throw new WeirError(
      "USAGE",
      `${file} defines ${items.length} deployments (${items.map((i) => i.name).join(", ")}): choose with --name NAME (repeatable, globs allowed) or deploy them all with --all`,
    );
  }
  const picked = new Set<T>();
  for (const p of patterns) {
    const glob = new Bun.Glob(p);
    const hits = items.filter(
      (i) => glob.match(i.name) || (i.flowName !== null && glob.match(`${i.flowName}/${i.name}`)),
    );
    if (hits.length === 0) {
      throw new WeirError(
        "INVALID",
        `No deployment in ${file} matches "${p}" (defined: ${items.map((i) => (i.flowName ? `${i.flowName}/${i.name}` : i.name)).join(", ")})`,
      );
    }
    for (const h of hits) picked.add(h);
  }
  return items.filter((i) => picked.has(i));
}
