// The embedded database's client (core/store/bun-sqlite-client.ts) answers as @libsql/client does:
// the store and drizzle's libsql driver run on it unchanged. These check the shapes they rely on.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { bunSqliteClient } from "../../core/store/bun-sqlite-client.ts";
import {
  type Conn,
  insertRows,
  inTx,
  mapRow,
  plainRows,
  updateById,
  upsertRows,
} from "../../core/store/conn.ts";
import { migrate } from "../../core/store/migrate.ts";
import * as schema from "../../core/store/schema.ts";
import { serializeClient } from "../../core/store/serialize-client.ts";

/** A row's own enumerable properties, as drizzle's raw queries copy them. */
const plain = (row: object): Record<string, unknown> => ({ ...row });

let dir: string;
let client: Client;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "weir-bunsqlite-"));
  client = bunSqliteClient(join(dir, "db.sqlite"), { busyTimeoutMs: 1000 });
  await client.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, flag INTEGER)");
});
afterEach(() => {
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("bun:sqlite client", () => {
  test("rows have named columns as their only keys, and positions with a length", async () => {
    await client.execute({ sql: "INSERT INTO t VALUES (?, ?, ?)", args: ["a", 1, true] });
    const rs = await client.execute({ sql: "SELECT id, n, flag FROM t WHERE id = ?", args: ["a"] });
    expect(rs.columns).toEqual(["id", "n", "flag"]);
    const row = rs.rows[0]!;
    expect(Object.keys(row)).toEqual(["id", "n", "flag"]);
    expect(plain(row)).toEqual({ id: "a", n: 1, flag: 1 });
    expect(Array.prototype.slice.call(row)).toEqual(["a", 1, 1]);
    expect(row.length).toBe(3);
  });

  test("columns named by position or 'length', and duplicate names, keep every value by position", async () => {
    const rs = await client.execute("SELECT 1 AS '0', 2 AS length, 'x' AS id, 'y' AS id, 5 AS '9'");
    const row = rs.rows[0]!;
    expect(Array.prototype.slice.call(row)).toEqual([1, 2, "x", "y", 5]);
    expect(row.length).toBe(5);
    // As libSQL: the first of two names wins; "length" and positions stay positions.
    expect(plain(row)).toEqual({ id: "x", "9": 5 });
  });

  test("writes report what they changed; RETURNING gives the rows", async () => {
    const ins = await client.execute({
      sql: "INSERT INTO t VALUES (?, ?, ?), (?, ?, ?)",
      args: ["a", 1, 0, "b", 2, 0],
    });
    expect(ins.rowsAffected).toBe(2);
    const up = await client.execute({ sql: "UPDATE t SET n = n + 10 RETURNING id, n", args: [] });
    expect(up.rows.map(plain)).toEqual([
      { id: "a", n: 11 },
      { id: "b", n: 12 },
    ]);
  });

  test("a transaction commits together, or rolls back leaving nothing", async () => {
    const tx = await client.transaction("write");
    await tx.execute({ sql: "INSERT INTO t VALUES (?, ?, ?)", args: ["a", 1, 0] });
    await tx.rollback();
    expect(tx.closed).toBe(true);
    expect((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c).toBe(0);
    const tx2 = await client.transaction("write");
    await tx2.execute({ sql: "INSERT INTO t VALUES (?, ?, ?)", args: ["a", 1, 0] });
    await tx2.commit();
    expect((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c).toBe(1);
  });

  test("a batch is atomic: one failing statement leaves none applied", async () => {
    await client.execute({ sql: "INSERT INTO t VALUES (?, ?, ?)", args: ["a", 1, 0] });
    await expect(
      client.batch(
        [
          { sql: "INSERT INTO t VALUES (?, ?, ?)", args: ["b", 2, 0] },
          { sql: "INSERT INTO t VALUES (?, ?, ?)", args: ["a", 3, 0] },
        ],
        "write",
      ),
    ).rejects.toThrow(/UNIQUE constraint failed/);
    expect((await client.execute("SELECT count(*) AS c FROM t")).rows[0]!.c).toBe(1);
  });

  test("more distinct statements than the cache holds still run right (old ones are dropped)", async () => {
    for (let i = 0; i < 600; i++) {
      const rs = await client.execute({ sql: `SELECT ${i} AS v, ? AS w`, args: [i] });
      expect(rs.rows[0]!.v).toBe(i);
    }
    const again = await client.execute({ sql: "SELECT 0 AS v, ? AS w", args: [7] });
    expect(again.rows[0]!.w).toBe(7);
  });

  test("an undefined argument is refused, as libSQL refuses it", async () => {
    await expect(client.execute({ sql: "SELECT ?", args: [undefined as never] })).rejects.toThrow(
      /undefined/,
    );
  });
});

describe("plainRows (the store's hottest statements, past the query builder)", () => {
  /** A Conn as openStore makes one: drizzle over the serialized client. */
  const conn = (): Conn => ({
    db: drizzle(serializeClient(client), { schema }) as Conn["db"],
    t: schema,
    dialect: "sqlite",
  });

  test("inside a transaction it runs in that transaction: a rollback takes its writes away", async () => {
    const c = conn();
    const undone = inTx(c, async (tc) => {
      await plainRows(tc, "INSERT INTO t VALUES (?, ?, ?)", ["a", 1, true]);
      expect(await plainRows(tc, "SELECT id, n, flag FROM t")).toEqual([{ id: "a", n: 1, flag: 1 }]);
      throw new Error("undo");
    });
    expect(undone).rejects.toThrow("undo");
    await undone.catch(() => {});
    expect(await plainRows(c, "SELECT id FROM t")).toEqual([]);
  });

  test("mapRow decodes a plain row as the query builder does (JSON, booleans, NULL)", async () => {
    await migrate(client);
    const c = conn();
    const pools = [
      { id: "p1", name: "a", isPaused: true, concurrencyLimit: 3, baseJobTemplate: { job: { x: [1, "y"] } } },
      { id: "p2", name: "b", isPaused: false, concurrencyLimit: null, baseJobTemplate: {} },
    ];
    for (const p of pools)
      await c.db.insert(schema.workPools).values({ ...p, created: "t", updated: "t", type: "process" });
    const built = await c.db.select().from(schema.workPools).orderBy(schema.workPools.id);
    const plainOnes = await plainRows(c, "SELECT * FROM work_pools ORDER BY id");
    expect(plainOnes.map((raw) => mapRow(schema.workPools, raw))).toEqual(built);
    expect(built[0]!.isPaused).toBe(true);
    expect(built[0]!.baseJobTemplate).toEqual({ job: { x: [1, "y"] } });
  });

  test("insertRows, updateById and upsertRows store what the query builder stores", async () => {
    await migrate(client);
    const c = conn();
    const base = { created: "t", updated: "t", type: "process", description: null };
    await insertRows(c, schema.workPools, [
      { ...base, id: "p1", name: "a", isPaused: true, concurrencyLimit: 3, baseJobTemplate: { j: [1, "y"] } },
      { ...base, id: "p2", name: "b", isPaused: false, concurrencyLimit: null, baseJobTemplate: {} },
    ]);
    await updateById(c, schema.workPools, "p2", { isPaused: true, baseJobTemplate: { k: { l: null } } });
    await upsertRows(
      c,
      schema.workPools,
      [
        {
          ...base,
          id: "ignored",
          name: "a",
          isPaused: false,
          concurrencyLimit: 9,
          baseJobTemplate: { m: 1 },
        },
      ],
      schema.workPools.name,
      ["concurrencyLimit", "baseJobTemplate"],
    );
    const read = await c.db.select().from(schema.workPools).orderBy(schema.workPools.id);
    expect(read).toEqual([
      { ...base, id: "p1", name: "a", isPaused: true, concurrencyLimit: 9, baseJobTemplate: { m: 1 } },
      {
        ...base,
        id: "p2",
        name: "b",
        isPaused: true,
        concurrencyLimit: null,
        baseJobTemplate: { k: { l: null } },
      },
    ]);
  });

  test("outside one it waits for an open transaction, never reading what it has not committed", async () => {
    const c = conn();
    let inside!: () => void;
    const entered = new Promise<void>((r) => {
      inside = r;
    });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const tx = inTx(c, async (tc) => {
      await plainRows(tc, "INSERT INTO t VALUES (?, ?, ?)", ["b", 2, false]);
      inside();
      await held;
      throw new Error("rolled back");
    }).catch(() => {});
    await entered;
    const read = plainRows(c, "SELECT id FROM t");
    release();
    await tx;
    expect(await read).toEqual([]);
  });
});
