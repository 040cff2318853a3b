import { and, asc, eq } from "drizzle-orm";
import * as v from "valibot";
import { type BlockDocument, type BlockTypes, blockDataSchema, WeirError } from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page } from "./rows.ts";
import { blockDocuments } from "./schema.ts";

/** Checks block data against its type; problems name the field and what is wanted. */
export function checkBlockData(types: BlockTypes, type: string, data: unknown): Record<string, unknown> {
  const t = types.blockType(type);
  if (!t) {
    throw new WeirError(
      "INVALID",
      `Block type "${type}" is not known (known: ${types.blockTypes.map((b) => b.slug).join(", ")}; see: weir block types)`,
    );
  }
  const r = v.safeParse(blockDataSchema(t), data);
  if (!r.success) {
    const problems = r.issues.map((i) => {
      const path = v.getDotPath(i);
      if (i.type === "strict_object" && path)
        return `unknown field "${path}" (a ${type} block takes: ${Object.keys(t.fields).join(", ")})`;
      // Never echo the received value: it may be a secret.
      return `${path ?? "data"}: expected ${i.expected ?? "a valid value"}`;
    });
    throw new WeirError("INVALID", `Invalid ${type} block: ${problems.join("; ")}`);
  }
  return r.output as Record<string, unknown>;
}

export async function saveBlock(
  db: Db,
  types: BlockTypes,
  type: string,
  name: string,
  data: unknown,
  overwrite: boolean,
): Promise<BlockDocument> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new WeirError(
      "INVALID",
      `Block name "${name}" may hold lower-case letters, digits and '-' only (it is used in {{ weir.blocks.${type}.NAME }})`,
    );
  }
  const checked = checkBlockData(types, type, data);
  const now = nowIso();
  const existing = await findBlock(db, type, name);
  if (existing && !overwrite) {
    throw new WeirError(
      "CONFLICT",
      `Block ${type}/${name} already exists (replace it with --overwrite, or delete it first)`,
    );
  }
  if (existing)
    await db
      .update(blockDocuments)
      .set({ data: checked, updated: now })
      .where(eq(blockDocuments.id, existing.id));
  else
    await db
      .insert(blockDocuments)
      .values({ id: newId(), created: now, updated: now, type, name, data: checked });
  return (await findBlock(db, type, name))!;
}

export async function findBlock(db: Db, type: string, name: string): Promise<BlockDocument | undefined> {
  const [row] = await db
    .select()
    .from(blockDocuments)
    .where(and(eq(blockDocuments.type, type), eq(blockDocuments.name, name)));
  return row;
}

export async function findBlockById(db: Db, id: string): Promise<BlockDocument | undefined> {
  const [row] = await db.select().from(blockDocuments).where(eq(blockDocuments.id, id));
  return row;
}

export async function getBlock(db: Db, type: string, name: string): Promise<BlockDocument> {
  const b = await findBlock(db, type, name);
  if (!b)
    throw new WeirError(
      "NOT_FOUND",
      `Block ${type}/${name} does not exist (list blocks with: weir block ls)`,
    );
  return b;
}

export async function listBlocks(db: Db, page: Page = {}): Promise<BlockDocument[]> {
  return db
    .select()
    .from(blockDocuments)
    .orderBy(asc(blockDocuments.type), asc(blockDocuments.name))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
}

export async function deleteBlock(db: Db, type: string, name: string): Promise<void> {
  const b = await getBlock(db, type, name);
  await db.delete(blockDocuments).where(eq(blockDocuments.id, b.id));
}
