import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sql";
import * as schema from "./core/store/postgres/schema.ts";
import { MIGRATIONS } from "./core/store/postgres/migrations/index.ts";
import { startPostgres } from "./tests/e2e/postgres.ts";
const { flows } = schema;
const pg = await startPostgres();
try {
  const client = new Bun.SQL(pg.url);
  const db = drizzle(client, { schema });
  for (const m of MIGRATIONS) for (const s of m.sql.split("--> statement-breakpoint")) if (s.trim()) await db.execute(sql.raw(s));
  const now = new Date().toISOString();
  await db.insert(flows).values({ id: "f1", created: now, updated: now, name: "etl", tags: ["a", "b"] });
  console.log("stored by drizzle:", await client`select jsonb_typeof(tags) t, tags::text txt, tags from flows`);
  await client`insert into flows values ('f2', ${now}, ${now}, 'raw', '["x"]'::jsonb)`;
  console.log("stored by raw sql:", await client`select jsonb_typeof(tags) t, tags::text txt, tags from flows where id='f2'`);
  console.log("drizzle select of raw-inserted:", await db.select().from(flows));
  console.log("jsonb containment tags @> '[\"a\"]':", await db.select({ id: flows.id }).from(flows).where(sql`${flows.tags} @> '["a"]'::jsonb`));
  console.log("->> access:", await db.execute(sql`select tags->>0 as first from flows order by id`));
} finally {
  await pg.dispose();
}
