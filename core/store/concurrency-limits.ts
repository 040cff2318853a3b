import { asc, eq } from "drizzle-orm";
import type { ConcurrencyLimit } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import { countActiveWithTag } from "./claims.ts";
import type { Conn } from "./conn.ts";
import { newId, nowIso } from "./rows.ts";

type Row = { id: string; created: string; updated: string; tag: string; limit: number };

async function withActive(c: Conn, row: Row): Promise<ConcurrencyLimit> {
  return { ...row, active: await countActiveWithTag(c, row.tag) };
}

/** Creates a tag's limit, or changes it. */
export async function setConcurrencyLimit(c: Conn, tag: string, limit: number): Promise<ConcurrencyLimit> {
  const now = nowIso();
  await c.db
    .insert(c.t.concurrencyLimits)
    .values({ id: newId(), created: now, updated: now, tag, limit })
    .onConflictDoUpdate({ target: c.t.concurrencyLimits.tag, set: { limit, updated: now } });
  return getConcurrencyLimit(c, tag);
}

export async function getConcurrencyLimit(c: Conn, tag: string): Promise<ConcurrencyLimit> {
  const [row] = await c.db.select().from(c.t.concurrencyLimits).where(eq(c.t.concurrencyLimits.tag, tag));
  if (!row)
    throw new WeirError(
      "NOT_FOUND",
      `No concurrency limit for tag "${tag}" (create one with: weir concurrency-limit create ${tag} N)`,
    );
  return withActive(c, row);
}

export async function listConcurrencyLimits(c: Conn): Promise<ConcurrencyLimit[]> {
  const rows = await c.db.select().from(c.t.concurrencyLimits).orderBy(asc(c.t.concurrencyLimits.tag));
  return Promise.all(rows.map((r) => withActive(c, r)));
}

export async function deleteConcurrencyLimit(c: Conn, tag: string): Promise<ConcurrencyLimit> {
  const found = await getConcurrencyLimit(c, tag);
  await c.db.delete(c.t.concurrencyLimits).where(eq(c.t.concurrencyLimits.tag, tag));
  return found;
}
