import { and, asc, eq } from "drizzle-orm";
import * as v from "valibot";
import { type BlockDocument, type BlockTypes, blockDataSchema, WeirError } from "../model/index.ts";
import type { Conn } from "./conn.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page } from "./rows.ts";

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
      // valibot reports a missing key and an unknown one as the object's issue: told apart by what
      // was received there (nothing, for a missing key).
      if (i.type === "strict_object" && path)
        return `${i.received === "undefined" ? "missing" : "unknown"} field "${path}" (${type} blocks take: ${Object.keys(t.fields).join(", ")})`;
      // Never echo the received value: it may be a secret.
      return `${path ?? "data"}: expected ${i.expected ?? "a valid value"}`;
    });
    throw new WeirError("INVALID", `Invalid ${type} block: ${problems.join("; ")}`);
  }
  return r.output as Record<string, unknown>;
}

export async function saveBlock(
  c: Conn,
  types: BlockTypes,
  type: string,
  name: string,
  data: unknown,
  overwrite: boolean,
  /** Applied to the checked data before it is written (the server seals secret fields with it). */
  seal?: (data: Record<string, unknown>) => Promise<Record<string, unknown>>,
): Promise<BlockDocument> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new WeirError(
      "INVALID",
      `Block name "${name}" may hold lower-case letters, digits and '-' only (it is used in {{ weir.blocks.${type}.NAME }})`,
    );
  }
  const checked = seal ? await seal(checkBlockData(types, type, data)) : checkBlockData(types, type, data);
  const now = nowIso();
  const existing = await findBlock(c, type, name);
  if (existing && !overwrite) {
    throw new WeirError(
      "CONFLICT",
      `Block ${type}/${name} already exists (replace it with --overwrite, or delete it first)`,
    );
  }
  if (existing)
    await c.db
      .update(c.t.blockDocuments)
      .set({ data: checked, updated: now })
      .where(eq(c.t.blockDocuments.id, existing.id));
  else
    await c.db
      .insert(c.t.blockDocuments)
      .values({ id: newId(), created: now, updated: now, type, name, data: checked });
  return (await findBlock(c, type, name))!;
}

/** Replaces a block's data as it is (a key rotation re-sealing its secret fields). */
export async function replaceBlockData(c: Conn, id: string, data: Record<string, unknown>): Promise<void> {
  await c.db.update(c.t.blockDocuments).set({ data, updated: nowIso() }).where(eq(c.t.blockDocuments.id, id));
}

export async function findBlock(c: Conn, type: string, name: string): Promise<BlockDocument | undefined> {
  const [row] = await c.db
    .select()
    .from(c.t.blockDocuments)
    .where(and(eq(c.t.blockDocuments.type, type), eq(c.t.blockDocuments.name, name)));
  return row;
}

export async function findBlockById(c: Conn, id: string): Promise<BlockDocument | undefined> {
  const [row] = await c.db.select().from(c.t.blockDocuments).where(eq(c.t.blockDocuments.id, id));
  return row;
}

export async function getBlock(c: Conn, type: string, name: string): Promise<BlockDocument> {
  const b = await findBlock(c, type, name);
  if (!b)
    throw new WeirError(
      "NOT_FOUND",
      `Block ${type}/${name} does not exist (list blocks with: weir block ls)`,
    );
  return b;
}

export async function listBlocks(c: Conn, page: Page = {}): Promise<BlockDocument[]> {
  return c.db
    .select()
    .from(c.t.blockDocuments)
    .orderBy(asc(c.t.blockDocuments.type), asc(c.t.blockDocuments.name))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
}

export async function deleteBlock(c: Conn, type: string, name: string): Promise<void> {
  const b = await getBlock(c, type, name);
  await c.db.delete(c.t.blockDocuments).where(eq(c.t.blockDocuments.id, b.id));
}
