import { asc, eq } from "drizzle-orm";
import type { Variable } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page } from "./rows.ts";
import { variables } from "./schema.ts";

export async function setVariable(
  db: Db,
  name: string,
  value: unknown,
  tags: string[] = [],
): Promise<Variable> {
  const now = nowIso();
  await db
    .insert(variables)
    .values({ id: newId(), created: now, updated: now, name, value, tags })
    .onConflictDoUpdate({ target: variables.name, set: { value, tags, updated: now } });
  return getVariable(db, name);
}

export async function getVariable(db: Db, name: string): Promise<Variable> {
  const [row] = await db.select().from(variables).where(eq(variables.name, name));
  if (!row)
    throw new WeirError(
      "NOT_FOUND",
      `Variable "${name}" does not exist (set it with: weir variable set ${name} VALUE)`,
    );
  return row;
}

export async function listVariables(db: Db, page: Page = {}): Promise<Variable[]> {
  return db
    .select()
    .from(variables)
    .orderBy(asc(variables.name))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
}

export async function deleteVariable(db: Db, name: string): Promise<void> {
  await getVariable(db, name);
  await db.delete(variables).where(eq(variables.name, name));
}
