import { asc, eq } from "drizzle-orm";
import type { Variable } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import type { Conn } from "./conn.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page } from "./rows.ts";

export async function setVariable(
  c: Conn,
  name: string,
  value: unknown,
  tags: string[] = [],
): Promise<Variable> {
  const now = nowIso();
  await c.db
    .insert(c.t.variables)
    .values({ id: newId(), created: now, updated: now, name, value, tags })
    .onConflictDoUpdate({ target: c.t.variables.name, set: { value, tags, updated: now } });
  return getVariable(c, name);
}

export async function getVariable(c: Conn, name: string): Promise<Variable> {
  const [row] = await c.db.select().from(c.t.variables).where(eq(c.t.variables.name, name));
  if (!row)
    throw new WeirError(
      "NOT_FOUND",
      `Variable "${name}" does not exist (set it with: weir variable set ${name} VALUE)`,
    );
  return row;
}

export async function listVariables(c: Conn, page: Page = {}): Promise<Variable[]> {
  return c.db
    .select()
    .from(c.t.variables)
    .orderBy(asc(c.t.variables.name))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
}

export async function deleteVariable(c: Conn, name: string): Promise<void> {
  await getVariable(c, name);
  await c.db.delete(c.t.variables).where(eq(c.t.variables.name, name));
}
