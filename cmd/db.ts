import type { Command } from "@commander-js/extra-typings";
import { defaultDatabase } from "./lib/options.ts";

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
    .requiredOption("-o, --out <file>", "the file to write")
    .action(async (opts) => {
      const { openStore, redactUrl, TABLES } = await import("../core/store/index.ts");
      const url = opts.db ?? defaultDatabase();
      const store = await openStore({ url, poolSize: 2 });
      const out = Bun.file(opts.out).writer();
      const counts: string[] = [];
      try {
        out.write(`${JSON.stringify({ weir_export: 1, tables: TABLES })}\n`);
        for (const name of TABLES) {
          let after: string | number | null = null;
          let n = 0;
          for (;;) {
            const rows = await store.readTable(name, after, 1000);
            for (const row of rows) out.write(`${JSON.stringify({ t: name, r: row })}\n`);
            n += rows.length;
            if (rows.length < 1000) break;
            after = rows.at(-1)!.id as string | number;
          }
          counts.push(`${name} ${n}`);
        }
      } finally {
        await out.end();
        await store.close();
      }
      console.log(`Exported ${redactUrl(url)} to ${opts.out}: ${counts.join(", ")}`);
      console.log("The file holds block secrets in clear: keep it as safe as the database itself.");
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
        const decoder = new TextDecoder();
        let rest = "";
        const take = async (text: string) => {
          line++;
          if (!text.trim()) return;
          let item: { t?: string; r?: Record<string, unknown>; weir_export?: number };
          try {
            item = JSON.parse(text);
          } catch {
            throw new WeirError("INVALID", `${file}:${line}: not a line of a weir db export (not JSON)`);
          }
          if (line === 1) {
            if (item.weir_export !== 1)
              throw new WeirError("INVALID", `${file}:1: not a file written by weir db export`);
            return;
          }
          if (!item.t || !item.r || !(TABLES as readonly string[]).includes(item.t))
            throw new WeirError("INVALID", `${file}:${line}: unknown table "${item.t}"`);
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
        for await (const chunk of Bun.file(file).stream()) {
          rest += decoder.decode(chunk, { stream: true });
          const lines = rest.split("\n");
          rest = lines.pop() ?? "";
          for (const l of lines) await take(l);
        }
        if (rest) await take(rest);
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
