import { eq } from "drizzle-orm";
import type { Flow } from "../model/index.ts";
import type { Conn } from "./conn.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page } from "./rows.ts";

/** Returns the flow with this name, creating it on first use (c.t.flows are registered implicitly). */
export async function upsertFlow(c: Conn, name: string): Promise<Flow> {
  const now = nowIso();
  await c.db
    .insert(c.t.flows)
    .values({ id: newId(), created: now, updated: now, name, tags: [] })
    .onConflictDoNothing({ target: c.t.flows.name });
  const [row] = await c.db.select().from(c.t.flows).where(eq(c.t.flows.name, name));
  return row!;
}

export async function getFlowByName(c: Conn, name: string): Promise<Flow | undefined> {
  const [row] = await c.db.select().from(c.t.flows).where(eq(c.t.flows.name, name));
  return row;
}

export async function listFlows(c: Conn, page: Page = {}): Promise<Flow[]> {
  return c.db
    .select()
    .from(c.t.flows)
    .orderBy(c.t.flows.name)
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
}
