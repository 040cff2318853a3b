import type { Command } from "@commander-js/extra-typings";
import { defaultDatabase, requireExistingDatabase } from "./lib/options.ts";

export function register(program: Command): void {
  const cmd = program
    .command("secret-key")
    .description("The key secret block fields are sealed with in the database");

  cmd
    .command("rotate")
    .description(
      "Seal every secret under a new key (stop the servers first; with WEIR_SECRET_KEY, the new key comes from WEIR_NEW_SECRET_KEY)",
    )
    .option("--db <url>", "database (env WEIR_DATABASE_URL; default $WEIR_HOME/weir.db)")
    .action(async (opts) => {
      const { SecretBox, keyFromEnv, newKey } = await import("../core/auth/index.ts");
      const { openStore, redactUrl, SERVER_GONE_MS } = await import("../core/store/index.ts");
      const { secretFieldNames, WeirError } = await import("../core/model/index.ts");
      const { keyFile, loadKeys, writeKeys } = await import("./lib/secret-key.ts");
      const { registry } = await import("./lib/registry.ts");
      const { keys, source } = loadKeys(false);
      const fromEnv = source === "WEIR_SECRET_KEY";
      if (fromEnv && !process.env.WEIR_NEW_SECRET_KEY)
        throw new WeirError(
          "USAGE",
          "The key comes from WEIR_SECRET_KEY: set WEIR_NEW_SECRET_KEY to the new one (openssl rand -base64 32), run this again, then give the servers the new key as WEIR_SECRET_KEY",
        );
      const next = fromEnv
        ? { ...keyFromEnv(process.env.WEIR_NEW_SECRET_KEY!), id: `env-${Date.now().toString(36)}` }
        : newKey();
      const url = opts.db ?? defaultDatabase();
      await requireExistingDatabase(url);
      const store = await openStore({ url, poolSize: 2 });
      const types = registry();
      let sealed = 0;
      try {
        // A server keeps sealing with the key it started with, which this removes: what it sealed
        // meanwhile could never be opened again. So no server may be using the database.
        const live = await store.liveServers(new Date(Date.now() - SERVER_GONE_MS).toISOString());
        if (live.length > 0)
          throw new WeirError(
            "CONFLICT",
            `${live.length} Weir server(s) use ${redactUrl(url)} now (${live.map((x) => `pid ${x.pid} on ${x.host}, last seen ${x.last_seen}`).join("; ")}): stop them first, then rotate (a server keeps sealing with the key it started with, which this would remove; one killed without stopping is forgotten ${SERVER_GONE_MS / 1000} s after it was last seen)`,
          );
        // Both keys are kept while values move, so a rotation stopped half way loses nothing:
        // running it again finishes it.
        if (!fromEnv) writeKeys(keyFile(), [...keys, next]);
        const box = new SecretBox([...keys, next]);
        for (let offset = 0; ; offset += 500) {
          const blocks = await store.listBlocks({ limit: 500, offset });
          for (const b of blocks) {
            const fields = secretFieldNames(types.blockType(b.type)).filter((name) => b.data[name] != null);
            if (fields.length === 0) continue;
            const open = await box.openFields(b.data, fields);
            const data = { ...open };
            for (const f of fields) data[f] = await box.seal(open[f]);
            await store.replaceBlockData(b.id, data);
            sealed += fields.length;
          }
          if (blocks.length < 500) break;
        }
      } finally {
        await store.close();
      }
      // The old key is kept aside, not destroyed: another database (a copy, a test one) may still
      // hold secrets sealed with it.
      let retired = "";
      if (!fromEnv) {
        retired = `${keyFile()}.retired-${new Date().toISOString().replace(/[:.]/g, "-")}`;
        writeKeys(retired, keys);
        writeKeys(keyFile(), [next]);
      }
      console.log(
        `Sealed ${sealed} secret field(s) in ${redactUrl(url)} with a new key${fromEnv ? ": now start the servers with WEIR_SECRET_KEY set to WEIR_NEW_SECRET_KEY's value" : ` (written to ${keyFile()}; the old key was moved to ${retired}: delete it once no other database needs it)`}`,
      );
    });
}
