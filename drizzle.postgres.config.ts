import { defineConfig } from "drizzle-kit";

// Writes core/store/postgres/migrations/*.sql from core/store/postgres/schema.ts
// (`npx drizzle-kit generate --config drizzle.postgres.config.ts --name <name>`); the binary embeds
// those files (core/store/postgres/migrations/index.ts). The SQLite twin is drizzle.config.ts.
export default defineConfig({
  dialect: "postgresql",
  schema: "./core/store/postgres/schema.ts",
  out: "./core/store/postgres/migrations",
});
