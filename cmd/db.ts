import type { Command } from "@commander-js/extra-typings";
import { defaultDatabase, requireExistingDatabase } from "./lib/options.ts";

const dbOption =
  "database file, libSQL URL or postgres:// URL (env WEIR_DATABASE_URL; default $WEIR_HOME/weir.db)";

export function register(program: Command): void {
  const cmd = program
    .command("db")
    .description("Migrate a database, or move one to another (SQLite ⇄ PostgreSQL)");

  cmd
    .command("migrate")
    .description("Bring a database's tables up to this version (servers also do this when they start)")
    .option("--db <url>", dbOption)
    .action(async (opts) => {
      const { openStore, redactUrl } = await import("../core/store/index.ts");
      const url = opts.db ?? defaultDatabase();
      const store = await openStore({ url, migrate: false, poolSize: 2 });
      try {
        const applied = await store.migrate();
        console.log(
          applied.length
            ? `Applied ${applied.length} migration(s) to ${redactUrl(url)}: ${applied.join(", ")}`
            : `${redactUrl(url)} is up to date`,
        );
      } finally {
        await store.close();
      }
    });

  cmd
    .command("export")
    .description("Write every table of a database to a file (JSON lines), for weir db import")
    .option("--db <url>", dbOption)
    .requiredOption("-o, --out <file>", "the file to write (a new one)")
    .option("--force", "replace an existing export file")
    .action(async (opts) => {
      const { chmodSync, existsSync, renameSync, rmSync } = await import("node:fs");
      const { resolve } = await import("node:path");
      const { WeirError } = await import("../core/model/index.ts");
      const { openStore, redactUrl, rowKey, TABLES } = await import("../core/store/index.ts");
      const url = opts.db ?? defaultDatabase();
      const out = resolve(opts.out);
      // A path (not a URL) names an embedded database: it must be there (a typo would export a new,
      // empty one), and the file written must not be it.
      const file = /^[a-z][a-z0-9+.-]*:/i.test(url) ? null : resolve(url);
      await requireExistingDatabase(url);
      if (file && [file, `${file}-wal`, `${file}-shm`].includes(out))
        throw new WeirError(
          "USAGE",
          `--out ${opts.out} is the database being exported: give a file of its own`,
        );
      if (existsSync(out) && !opts.force)
        throw new WeirError(
          "USAGE",
          `--out ${opts.out} exists: give a new file (or --force to replace an earlier export)`,
        );
      const store = await openStore({ url, poolSize: 2 });
      // Written beside the target and renamed at the end: an export that fails leaves no file
      // that looks whole. Mode 600: it holds everything the database does.
      const partial = `${out}.partial-${process.pid}`;
      const writer = Bun.file(partial).writer();
      const counts: Record<string, number> = {};
      let done = false;
      try {
        writer.write(`${JSON.stringify({ weir_export: 2, tables: TABLES })}\n`);
        for (const name of TABLES) {
          let after: string | number | null = null;
          let n = 0;
          for (;;) {
            const rows = await store.readTable(name, after, 1000);
            for (const row of rows) writer.write(`${JSON.stringify({ t: name, r: row })}\n`);
            n += rows.length;
            if (rows.length < 1000) break;
            after = rowKey(name, rows.at(-1)!);
          }
          counts[name] = n;
        }
        // The last line: import checks it, so a file cut short is refused, not half loaded.
        writer.write(`${JSON.stringify({ weir_export_end: counts })}\n`);
        await writer.end();
        chmodSync(partial, 0o600);
        renameSync(partial, out);
        done = true;
      } finally {
        if (!done) {
          await Promise.resolve(writer.end()).catch(() => {});
          rmSync(partial, { force: true });
        }
        await store.close();
      }
      console.log(
        `Exported ${redactUrl(url)} to ${opts.out}: ${Object.entries(counts)
          .map(([t, n]) => `${t} ${n}`)
          .join(", ")}`,
      );
      console.log(
        "Block secrets stay sealed with this installation's key ($WEIR_HOME/secret-key, or WEIR_SECRET_KEY): give the server that imports this file the same key, or they cannot be opened there. Keep the file as safe as the database.",
      );
    });

  cmd
    .command("import")
    .description("Load a file written by weir db export into an empty database (migrated first)")
    .argument("<file>", "the export file")
    .option("--db <url>", dbOption)
    .action(async (file, opts) => {
      const { existsSync } = await import("node:fs");
      const { WeirError } = await import("../core/model/index.ts");
      const { openStore, redactUrl, TABLES } = await import("../core/store/index.ts");
      if (!existsSync(file))
        throw new WeirError("USAGE", `${file} does not exist (write it with: weir db export --out ${file})`);
      const url = opts.db ?? defaultDatabase();
      // The whole file is read once before anything is written: a file cut short, or with a bad
      // line, is refused with the database left empty.
      const lines = async function* () {
        const decoder = new TextDecoder();
        let rest = "";
        for await (const chunk of Bun.file(file).stream()) {
          rest += decoder.decode(chunk, { stream: true });
          const parts = rest.split("\n");
          rest = parts.pop() ?? "";
          yield* parts;
        }
        if (rest) yield rest;
      };
      type Item = {
        t?: string;
        r?: Record<string, unknown>;
        weir_export?: number;
        weir_export_end?: Record<string, number>;
      };
      const parse = (text: string, line: number): Item => {
        try {
          return JSON.parse(text) as Item;
        } catch {
          throw new WeirError("INVALID", `${file}:${line}: not a line of a weir db export (not JSON)`);
        }
      };
      {
        let line = 0;
        let version = 0;
        let end: Record<string, number> | null = null;
        const seen: Record<string, number> = {};
        for await (const text of lines()) {
          line++;
          if (!text.trim()) continue;
          const item = parse(text, line);
          if (line === 1) {
            if (item.weir_export !== 1 && item.weir_export !== 2)
              throw new WeirError("INVALID", `${file}:1: not a file written by weir db export`);
            version = item.weir_export;
            continue;
          }
          if (end) throw new WeirError("INVALID", `${file}:${line}: a line after the export's last line`);
          if (item.weir_export_end) {
            end = item.weir_export_end;
            continue;
          }
          if (!item.t || !item.r || !(TABLES as readonly string[]).includes(item.t))
            throw new WeirError("INVALID", `${file}:${line}: unknown table "${item.t}"`);
          seen[item.t] = (seen[item.t] ?? 0) + 1;
        }
        if (version === 0)
          throw new WeirError("INVALID", `${file} is empty: not a file written by weir db export`);
        // Files from before the last line was written (version 1) cannot be checked this way.
        if (version >= 2) {
          if (!end)
            throw new WeirError(
              "INVALID",
              `${file} ends before the export's last line: it was cut short (export again); nothing was imported`,
            );
          const wrong = Object.entries(end).filter(([t, n]) => (seen[t] ?? 0) !== n);
          if (wrong.length > 0)
            throw new WeirError(
              "INVALID",
              `${file} does not hold the rows its last line counts (${wrong.map(([t, n]) => `${t}: ${seen[t] ?? 0} of ${n}`).join(", ")}): export again; nothing was imported`,
            );
        }
      }
      const store = await openStore({ url, poolSize: 2 });
      try {
        const before = await store.countRows();
        const nonEmpty = Object.entries(before).filter(([, n]) => n > 0);
        if (nonEmpty.length > 0)
          throw new WeirError(
            "CONFLICT",
            `${redactUrl(url)} is not empty (${nonEmpty.map(([t, n]) => `${t} ${n}`).join(", ")}): import into a new database, so nothing is mixed or lost`,
          );
        const batches = new Map<string, Record<string, unknown>[]>();
        const flush = async (name: string) => {
          const rows = batches.get(name);
          if (rows?.length) await store.writeRows(name as (typeof TABLES)[number], rows);
          batches.set(name, []);
        };
        let line = 0;
        let current: string | null = null;
        const take = async (text: string) => {
          line++;
          if (!text.trim() || line === 1) return;
          const item = parse(text, line);
          if (item.weir_export_end || !item.t || !item.r) return;
          // Tables come one after another, in dependency order: write a table's rows before the next.
          if (current !== item.t) {
            if (current) await flush(current);
            current = item.t;
          }
          const list = batches.get(item.t) ?? [];
          list.push(item.r);
          batches.set(item.t, list);
          if (list.length >= 1000) await flush(item.t);
        };
        for await (const text of lines()) await take(text);
        if (current) await flush(current);
        await store.afterImport();
        const after = await store.countRows();
        console.log(
          `Imported ${file} into ${redactUrl(url)}: ${Object.entries(after)
            .map(([t, n]) => `${t} ${n}`)
            .join(", ")}`,
        );
      } finally {
        await store.close();
      }
    });
}
