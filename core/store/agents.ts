import { asc, eq } from "drizzle-orm";
import type { Agent } from "../model/index.ts";
import type { Conn } from "./conn.ts";
import { DEFAULT_PAGE, nowIso, type Page } from "./rows.ts";

export async function heartbeat(
  c: Conn,
  a: Omit<Agent, "last_heartbeat" | "stopped"> & { stopping?: boolean },
): Promise<Agent | null> {
  const now = nowIso();
  const stopped = a.stopping ? now : null;
  const written = await c.db
    .insert(c.t.agents)
    .values({
      id: a.id,
      created: now,
      name: a.name,
      workPoolName: a.work_pool_name,
      workQueues: a.work_queues,
      lastHeartbeat: now,
      stopped,
    })
    .onConflictDoUpdate({
      target: c.t.agents.id,
      set: { lastHeartbeat: now, workQueues: a.work_queues, stopped },
      // Null (nothing written) when the id is another pool's agent.
      setWhere: eq(c.t.agents.workPoolName, a.work_pool_name),
    })
    .returning({ id: c.t.agents.id });
  if (written.length === 0) return null;
  return {
    id: a.id,
    name: a.name,
    work_pool_name: a.work_pool_name,
    work_queues: a.work_queues,
    last_heartbeat: now,
    stopped,
  };
}

export async function listAgents(c: Conn, poolName?: string, page: Page = {}): Promise<Agent[]> {
  const rows = await c.db
    .select()
    .from(c.t.agents)
    .where(poolName ? eq(c.t.agents.workPoolName, poolName) : undefined)
    .orderBy(asc(c.t.agents.name), asc(c.t.agents.id))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    work_pool_name: r.workPoolName,
    work_queues: r.workQueues,
    last_heartbeat: r.lastHeartbeat,
    stopped: r.stopped ?? null,
  }));
}
