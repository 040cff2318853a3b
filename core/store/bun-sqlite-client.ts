import { Database, type Statement } from "bun:sqlite";
import type {
  Client,
  InArgs,
  InStatement,
  InValue,
  ResultSet,
  Row,
  Transaction,
  TransactionMode,
} from "@libsql/client";

/**
 * What this client adds to libSQL's interface, on itself and on its transactions: a statement's
 * rows as plain objects straight from the cached statement (see `plainRows` in conn.ts), without the
 * ResultSet shaping and the query builder's mapping, for the store's hottest statements.
 */
export interface DirectRows {
  rows(sql: string, args: readonly unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * A libSQL `Client` for an embedded database file, over Bun's built-in SQLite with a cache of
 * prepared statements. @libsql/client prepares every statement anew and reads its column list on
 * each call (a third of a store call's time, profiled); a cached statement skips both. The store
 * and drizzle's libsql driver see the same interface and behaviour (foreign keys on, as libSQL has
 * them), and the file stays an ordinary SQLite database (libSQL's remote URLs still use
 * @libsql/client).
 */
export function bunSqliteClient(path: string, options: { busyTimeoutMs: number }): Client & DirectRows {
  const db = new Database(path, { create: true, strict: true });
  db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  // libSQL enforces foreign keys by default; SQLite does not. The schema's ON DELETE CASCADE and
  // SET NULL (a deleted deployment's schedules, a deleted run's states and logs) rely on it.
  db.run("PRAGMA foreign_keys = ON");
  const cache = new StatementCache(db, 500);
  const run = (stmt: InStatement, args?: InArgs): ResultSet =>
    typeof stmt === "string" ? execute(cache, stmt, args) : execute(cache, stmt.sql, stmt.args);
  const inTransaction = (mode: TransactionMode | undefined, stmts: InStatement[]): ResultSet[] => {
    db.run(begin(mode));
    try {
      const results = stmts.map((s) => run(s));
      db.run("COMMIT");
      return results;
    } catch (err) {
      if (db.inTransaction) db.run("ROLLBACK");
      throw err;
    }
  };
  const rows = (sql: string, args: readonly unknown[]) =>
    cache.get(sql).all(...(args.map((a) => value(a as InValue)) as never[])) as Record<string, unknown>[];
  let closed = false;
  const client: Client & DirectRows = {
    execute: async (stmt: InStatement | string, args?: InArgs) => run(stmt, args),
    rows: async (sql, args) => rows(sql, args),
    batch: async (stmts, mode) =>
      inTransaction(
        mode,
        stmts.map((s) => (Array.isArray(s) ? { sql: s[0], args: s[1] } : s)),
      ),
    migrate: async (stmts) => inTransaction("deferred", stmts),
    transaction: async (mode?: TransactionMode) => {
      db.run(begin(mode));
      let done = false;
      const finish = (sql: "COMMIT" | "ROLLBACK") => {
        if (done) return;
        try {
          if (sql === "COMMIT") db.run("COMMIT");
          else if (db.inTransaction) db.run("ROLLBACK");
        } catch (err) {
          // A COMMIT that failed (SQLITE_BUSY, a full disk) must not leave the one connection
          // inside the transaction: every later statement would join it and never be committed.
          if (db.inTransaction) db.run("ROLLBACK");
          throw err;
        } finally {
          done = true;
        }
      };
      const tx: Transaction & DirectRows = {
        execute: async (stmt) => {
          if (done) throw new Error("the transaction is already closed");
          return run(stmt);
        },
        rows: async (sql, args) => {
          if (done) throw new Error("the transaction is already closed");
          return rows(sql, args);
        },
        batch: async (stmts) => stmts.map((s) => run(s)),
        executeMultiple: async (sql) => {
          db.exec(sql);
        },
        commit: async () => finish("COMMIT"),
        rollback: async () => finish("ROLLBACK"),
        close: () => finish("ROLLBACK"),
        get closed() {
          return done;
        },
      };
      return tx;
    },
    executeMultiple: async (sql) => {
      db.exec(sql);
    },
    sync: async () => undefined,
    close: () => {
      if (closed) return;
      closed = true;
      cache.clear();
      db.close();
    },
    reconnect: () => {},
    get closed() {
      return closed;
    },
    protocol: "file",
  };
  return client;
}

function begin(mode: TransactionMode | undefined): string {
  return mode === "read" || mode === "deferred" ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE";
}

/** Prepared statements by SQL text, least recently used dropped past `max` (the scheduler's multi-row inserts vary in length). */
class StatementCache {
  private readonly map = new Map<string, Statement>();
  constructor(
    private readonly db: Database,
    private readonly max: number,
  ) {}
  get(sql: string): Statement {
    let stmt = this.map.get(sql);
    if (stmt) {
      this.map.delete(sql);
      this.map.set(sql, stmt);
      return stmt;
    }
    stmt = this.db.prepare(sql);
    this.map.set(sql, stmt);
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.get(oldest)?.finalize();
      this.map.delete(oldest);
    }
    return stmt;
  }
  clear(): void {
    for (const stmt of this.map.values()) stmt.finalize();
    this.map.clear();
  }
}

function execute(cache: StatementCache, sql: string, args: InArgs | undefined): ResultSet {
  const stmt = cache.get(sql);
  const bound = bind(args);
  const columns = stmt.columnNames;
  if (columns.length === 0) {
    const r = stmt.run(...(bound as never[]));
    return resultSet(columns, [], r.changes, BigInt(r.lastInsertRowid));
  }
  const values = stmt.values(...(bound as never[])) as unknown[][];
  const make = rowMaker(columns);
  return resultSet(
    columns,
    values.map((v) => make(v)),
    values.length,
    undefined,
  );
}

/** libSQL's argument conversions: booleans as 0/1, dates as epoch milliseconds. */
function bind(args: InArgs | undefined): unknown[] | Record<string, unknown>[] {
  if (args === undefined) return [];
  if (!Array.isArray(args)) return [Object.fromEntries(Object.entries(args).map(([k, v]) => [k, value(v)]))];
  return args.map(value);
}

function value(v: InValue): unknown {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Date) return v.valueOf();
  if (v === undefined) throw new TypeError("undefined cannot be bound to an SQL parameter");
  return v;
}

function resultSet(
  columns: string[],
  rows: Row[],
  rowsAffected: number,
  lastInsertRowid: bigint | undefined,
): ResultSet {
  return {
    columns,
    columnTypes: columns.map(() => ""),
    rows,
    rowsAffected,
    lastInsertRowid,
    toJSON: () => ({ columns, rows: rows.map((r) => Array.prototype.slice.call(r)), rowsAffected }),
  };
}

/**
 * Rows as libSQL shapes them: named columns as the only enumerable own properties (drizzle's raw
 * queries copy those), and positions readable by index with a length (drizzle's mapped queries
 * slice them). The positions are getters on a prototype shared by every row of one column list.
 * As in libSQL, a name is skipped when it is "length", repeats an earlier column, or is a position.
 */
class RowBase {
  readonly #values: unknown[];
  constructor(values: unknown[]) {
    this.#values = values;
  }
  static at(row: RowBase, i: number): unknown {
    return row.#values[i];
  }
}

const makers = new Map<string, (values: unknown[]) => Row>();
function rowMaker(columns: string[]): (values: unknown[]) => Row {
  const key = columns.join("\u0000");
  let make = makers.get(key);
  if (make) return make;
  const n = columns.length;
  const named: [string, number][] = [];
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    const position = /^(0|[1-9]\d*)$/.test(name) && Number(name) < n;
    if (name !== "length" && !position && !seen.has(name)) named.push([name, i]);
    seen.add(name);
  });
  class Shaped extends RowBase {}
  Object.defineProperty(Shaped.prototype, "length", { value: n });
  for (let i = 0; i < n; i++)
    Object.defineProperty(Shaped.prototype, i, {
      get(this: RowBase) {
        return RowBase.at(this, i);
      },
    });
  make = (values) => {
    const row = new Shaped(values) as unknown as Record<string, unknown>;
    for (const [name, i] of named) row[name] = values[i];
    return row as unknown as Row;
  };
  if (makers.size < 1000) makers.set(key, make);
  return make;
}
