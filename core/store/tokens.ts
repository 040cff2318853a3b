import { and, asc, eq, isNull, ne, or, sql } from "drizzle-orm";
import { type TokenInfo, WeirError } from "../model/index.ts";
import { type Conn, inTx, rawRows } from "./conn.ts";
import { newId, nowIso } from "./rows.ts";

const info = (r: typeof import("./schema.ts").apiTokens.$inferSelect): TokenInfo => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  work_pool_name: r.workPoolName,
  flow_run_id: r.flowRunId,
  created: r.created,
  expires: r.expires,
  revoked: r.revoked,
});

export async function createToken(
  c: Conn,
  t: {
    name: string;
    scope: string;
    hash: string;
    workPoolName?: string | null;
    flowRunId?: string | null;
    expires?: string | null;
  },
): Promise<TokenInfo> {
  const row = {
    id: newId(),
    created: nowIso(),
    name: t.name,
    scope: t.scope,
    workPoolName: t.workPoolName ?? null,
    flowRunId: t.flowRunId ?? null,
    hash: t.hash,
    expires: t.expires ?? null,
    revoked: null,
  };
  if (t.scope === "run") {
    await c.db.insert(c.t.apiTokens).values(row);
    return info(row);
  }
  // A name is one live token's: checked and written in one transaction, which on PostgreSQL
  // first takes a lock every token creation takes (two servers creating the same name at once).
  return inTx(c, async (tc) => {
    if (c.dialect === "postgres")
      await rawRows(tc, sql`SELECT pg_advisory_xact_lock(hashtext('weir:api_tokens'))`);
    const [taken] = await tc.db
      .select({ id: c.t.apiTokens.id })
      .from(c.t.apiTokens)
      .where(and(eq(c.t.apiTokens.name, t.name), isNull(c.t.apiTokens.revoked)));
    if (taken)
      throw new WeirError(
        "CONFLICT",
        `A token named "${t.name}" exists (revoke it with: weir token revoke ${t.name}, or pick another name)`,
      );
    await tc.db.insert(c.t.apiTokens).values(row);
    return info(row);
  });
}

/** The token with this hash, whatever its state (the caller checks expiry and revocation). */
export async function findTokenByHash(c: Conn, hash: string): Promise<TokenInfo | undefined> {
  const [row] = await c.db.select().from(c.t.apiTokens).where(eq(c.t.apiTokens.hash, hash));
  return row ? info(row) : undefined;
}

/** Named tokens (run tokens are not listed: there is one per claimed run). */
export async function listTokens(c: Conn): Promise<TokenInfo[]> {
  const rows = await c.db
    .select()
    .from(c.t.apiTokens)
    .where(ne(c.t.apiTokens.scope, "run"))
    .orderBy(asc(c.t.apiTokens.created));
  return rows.map(info);
}

/** Revokes the live token with this name or id; run tokens of a run end with it too. */
export async function revokeToken(c: Conn, ref: string): Promise<TokenInfo> {
  const [hit] = await c.db
    .select()
    .from(c.t.apiTokens)
    .where(
      and(
        isNull(c.t.apiTokens.revoked),
        ne(c.t.apiTokens.scope, "run"),
        or(eq(c.t.apiTokens.name, ref), eq(c.t.apiTokens.id, ref)),
      ),
    );
  if (!hit) throw new WeirError("NOT_FOUND", `No live token named "${ref}" (list them with: weir token ls)`);
  const revoked = nowIso();
  // Every live token of that name (an older build could make two of one name), or the one id.
  await c.db
    .update(c.t.apiTokens)
    .set({ revoked })
    .where(
      and(
        isNull(c.t.apiTokens.revoked),
        ne(c.t.apiTokens.scope, "run"),
        or(eq(c.t.apiTokens.id, hit.id), eq(c.t.apiTokens.name, ref)),
      ),
    );
  return { ...info(hit), revoked };
}

/**
 * Ends the run tokens of a run (its final state was recorded). They are deleted, not marked: one
 * is minted per claimed run, and nothing lists them.
 */
export async function revokeRunTokens(c: Conn, flowRunId: string): Promise<void> {
  await c.db
    .delete(c.t.apiTokens)
    .where(and(eq(c.t.apiTokens.flowRunId, flowRunId), eq(c.t.apiTokens.scope, "run")));
}
