import { defineConfig } from "drizzle-kit";

// Only used by `npm run db:generate` to write core/store/migrations/*.sql from schema.ts; the
// binary embeds those files and applies them itself (core/store/migrate.ts).
export default defineConfig({
  dialect: "sqlite",
  schema: "./core/store/schema.ts",
  out: "./core/store/migrations",
});
