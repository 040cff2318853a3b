import type { Command } from "@commander-js/extra-typings";
import { client } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";

export function register(program: Command): void {
  const cmd = program
    .command("token")
    .description("Manage API tokens: agents, CI and people send one as WEIR_API_KEY (servers with --auth)");

  cmd
    .command("create")
    .description("Create a token and print it once (only its hash is kept)")
    .argument("<name>", "what it is for: ci, agent-edge-1, alice")
    .requiredOption(
      "--scope <scope>",
      "admin, deploy (weir deploy and CI), agent (claim and run a pool's runs) or read",
    )
    .option("--pool <pool>", "with --scope agent: the only work pool it may take runs from")
    .option("--expires <in>", "lifetime: 30d, 12h, 90m or never", "never")
    .option("--json", "print JSON")
    .action(async (name, opts) => {
      const { checkScope, parseExpiry } = await import("../core/auth/index.ts");
      const scope = checkScope(opts.scope);
      const { WeirError } = await import("../core/model/index.ts");
      if (opts.pool && scope !== "agent")
        throw new WeirError("USAGE", "--pool binds agent tokens only (use it with --scope agent)");
      const ms = parseExpiry(opts.expires);
      const t = await client().createToken({
        name,
        scope,
        work_pool_name: opts.pool ?? null,
        expires_in_seconds: ms === null ? null : Math.round(ms / 1000),
      });
      if (opts.json) return printJson(t);
      console.log(t.token);
      console.error(
        `Token "${t.name}" (${t.scope}${t.work_pool_name ? `, pool ${t.work_pool_name}` : ""}${t.expires ? `, expires ${t.expires}` : ""}) printed above: store it now, it is not shown again. Use it as WEIR_API_KEY.`,
      );
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List tokens (never their values)")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const all = await client().listTokens();
      if (opts.json) return printJson(all);
      printTable(
        ["NAME", "SCOPE", "POOL", "CREATED", "EXPIRES", "STATUS"],
        all.map((t) => [
          t.name,
          t.scope,
          t.work_pool_name ?? "",
          t.created,
          t.expires ?? "never",
          t.revoked
            ? `revoked ${t.revoked}`
            : t.expires && Date.parse(t.expires) <= Date.now()
              ? "expired"
              : "active",
        ]),
      );
    });

  cmd
    .command("revoke")
    .description(
      "Revoke a token by name or id (it stops working at once on this server, within 5 s on others)",
    )
    .argument("<name>", "token name or id")
    .action(async (name) => {
      const t = await client().revokeToken(name);
      console.log(`Revoked token "${t.name}" (${t.scope})`);
    });
}
