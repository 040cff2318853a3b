import { eq } from "drizzle-orm";
import type { Flow } from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page } from "./rows.ts";
import { flows } from "./schema.ts";

type Tx = Pick<Db, "select" | "insert" | "update" | "delete">;

/** Returns the flow with this name, creating it on first use (flows are registered implicitly). */
export async function upsertFlow(db: Tx, name: string): Promise<Flow> {
  const now = nowIso();
  await db
    .insert(flows)
    .values({ id: newId(), created: now, updated: now, name, tags: [] })
    .onConflictDoNothing({ target: flows.name });
  const [row] = await db.select().from(flows).where(eq(flows.name, name));
  return row!;
}

export async function getFlowByName(db: Tx, name: string): Promise<Flow | undefined> {
  const [row] = await db.select().from(flows).where(eq(flows.name, name));
  return row;
}

export async function listFlows(db: Db, page: Page = {}): Promise<Flow[]> {
  return db
    .select()
    .from(flows)
    .orderBy(flows.name)
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
}
