import { eq, gt } from "drizzle-orm";
import type { Conn } from "./conn.ts";
import { nowIso } from "./rows.ts";

/** How often a server renews its row in `servers`. */
export const SERVER_SEEN_MS = 5_000;
/** A server not seen for this long is taken as gone (killed without stopping). */
export const SERVER_GONE_MS = 6 * SERVER_SEEN_MS;

/** A server using the database (see schema `servers`). */
export interface ServerPresence {
  id: string;
  host: string;
  pid: number;
  started: string;
  last_seen: string;
}

/** Records that server `id` uses the database now (its first call adds the row). */
export async function serverSeen(c: Conn, s: { id: string; host: string; pid: number }): Promise<void> {
  const now = nowIso();
  await c.db
    .insert(c.t.servers)
    .values({ id: s.id, host: s.host, pid: s.pid, started: now, lastSeen: now })
    .onConflictDoUpdate({ target: c.t.servers.id, set: { lastSeen: now } });
}

/** Server `id` stopped: its row goes. */
export async function serverGone(c: Conn, id: string): Promise<void> {
  await c.db.delete(c.t.servers).where(eq(c.t.servers.id, id));
}

/** The servers seen since `since` (ISO time). */
export async function liveServers(c: Conn, since: string): Promise<ServerPresence[]> {
  const rows = await c.db.select().from(c.t.servers).where(gt(c.t.servers.lastSeen, since));
  return rows.map((r) => ({ id: r.id, host: r.host, pid: r.pid, started: r.started, last_seen: r.lastSeen }));
}
