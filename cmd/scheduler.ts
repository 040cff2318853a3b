import type { Command } from "@commander-js/extra-typings";
import { defaultDatabase, requireExistingDatabase } from "./lib/options.ts";
import { stamped } from "./lib/output.ts";

export function register(program: Command): void {
  program
    .command("scheduler")
    .description("Run the scheduler service alone (when the server runs with --no-scheduler elsewhere)")
    .option(
      "--db <path-or-url>",
      "database file or libSQL URL (env WEIR_DATABASE_URL; default $WEIR_HOME/weir.db)",
    )
    .action(async (opts) => {
      const { openStore, redactUrl } = await import("../core/store/index.ts");
      const { Scheduler } = await import("../core/scheduler/index.ts");
      const { loadConfig } = await import("../core/config/index.ts");
      const { untilSignal } = await import("./lib/signals.ts");
      const config = loadConfig();
      const settings = config.scheduler;
      // It schedules a server's database: one a typo would make anew has no deployments.
      const url = opts.db ?? defaultDatabase();
      await requireExistingDatabase(url);
      const store = await openStore({
        url,
        authToken: process.env.WEIR_DATABASE_AUTH_TOKEN,
        poolSize: config.databasePoolSize,
      });
      const scheduler = new Scheduler(store, settings, (m) => console.log(stamped(m)));
      scheduler.start();
      console.log(`Weir scheduler on ${redactUrl(store.url)}: a pass every ${settings.loopMs / 1000} s`);
      await untilSignal(async () => {
        await scheduler.stop();
        await store.close();
      });
    });
}
