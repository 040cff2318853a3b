import { asc, eq } from "drizzle-orm";
import type { Agent } from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, nowIso, type Page } from "./rows.ts";
import { agents } from "./schema.ts";

export async function heartbeat(db: Db, a: Omit<Agent, "last_heartbeat">): Promise<Agent> {
  const now = nowIso();
  await db
    .insert(agents)
    .values({
      id: a.id,
      created: now,
      name: a.name,
      workPoolName: a.work_pool_name,
      workQueues: a.work_queues,
      lastHeartbeat: now,
    })
    .onConflictDoUpdate({ target: agents.id, set: { lastHeartbeat: now, workQueues: a.work_queues } });
  return { ...a, last_heartbeat: now };
}

export async function listAgents(db: Db, poolName?: string, page: Page = {}): Promise<Agent[]> {
  const rows = await db
    .select()
    .from(agents)
    .where(poolName ? eq(agents.workPoolName, poolName) : undefined)
    .orderBy(asc(agents.name), asc(agents.id))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    work_pool_name: r.workPoolName,
    work_queues: r.workQueues,
    last_heartbeat: r.lastHeartbeat,
  }));
}
