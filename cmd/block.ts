import type { Command } from "@commander-js/extra-typings";
import { client, collect } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";

const splitRef = async (ref: string): Promise<[string, string]> => {
  const i = ref.indexOf("/");
  if (i <= 0) {
    const { WeirError } = await import("../core/model/index.ts");
    throw new WeirError("USAGE", `Name a block as TYPE/NAME, e.g. secret/db-password (got "${ref}")`);
  }
  return [ref.slice(0, i), ref.slice(i + 1)];
};

export function register(program: Command): void {
  const cmd = program
    .command("block")
    .description("Manage blocks: typed configuration and credentials used in weir.yaml");

  cmd
    .command("types")
    .description("List block types, their fields, and which fields are secret")
    .option("--json", "print JSON (with each type's JSON schema)")
    .action(async (opts) => {
      const types = await client().blockTypes();
      if (opts.json) return printJson(types);
      printTable(
        ["TYPE", "FIELDS (* required, secret marked)", "DESCRIPTION"],
        types.map((t) => {
          const s = t.schema as {
            properties: Record<string, unknown>;
            required: string[];
            secret_fields: string[];
          };
          const fields = Object.keys(s.properties).map(
            (f) =>
              `${f}${s.required.includes(f) ? "*" : ""}${s.secret_fields.includes(f) ? " (secret)" : ""}`,
          );
          return [t.slug, fields.join(", "), t.description];
        }),
      );
    });

  cmd
    .command("create")
    .description("Create a block: weir block create secret db-password --field value=...")
    .argument("<type>", "block type (see: weir block types)")
    .argument("<name>", "block name: lower-case letters, digits and '-'")
    .option(
      "--field <key=value>",
      "a field (repeatable; value read as JSON, else text; KEY=- reads the value from stdin, kept out of ps and shell history)",
      collect,
    )
    .option("--json <object>", "all fields as a JSON object (- reads it from stdin)")
    .option("--overwrite", "replace an existing block of this type and name")
    .action(async (type, name, opts) => {
      const { WeirError, parseValue } = await import("../core/model/index.ts");
      let data: Record<string, unknown> = {};
      // A secret given on the command line shows in `ps` and the shell's history: `-` reads it
      // from stdin instead (one value: a trailing line break is dropped).
      const fromStdin = [
        opts.json === "-",
        ...(opts.field ?? []).map((f) => f.slice(f.indexOf("=") + 1) === "-"),
      ];
      if (fromStdin.filter(Boolean).length > 1)
        throw new WeirError("USAGE", "Only one --field KEY=- (or --json -) can read stdin");
      const stdin = fromStdin.some(Boolean) ? (await Bun.stdin.text()).replace(/\r?\n$/, "") : "";
      if (opts.json) {
        try {
          data = JSON.parse(opts.json === "-" ? stdin : opts.json);
        } catch (e) {
          throw new WeirError("USAGE", `--json is not valid JSON: ${(e as Error).message}`);
        }
        if (!data || typeof data !== "object" || Array.isArray(data))
          throw new WeirError(
            "USAGE",
            '--json must be a JSON object of the fields, such as {"value": "..."}',
          );
      }
      // Fields the type declares as text stay text (a password of digits is still a string); the
      // others are read as JSON, else text.
      const types = await client().blockTypes();
      const props = (types.find((t) => t.slug === type)?.schema.properties ?? {}) as Record<
        string,
        { type?: string }
      >;
      for (const pair of opts.field ?? []) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new WeirError("USAGE", `--field "${pair}" must look like KEY=VALUE`);
        const key = pair.slice(0, eq);
        const raw = pair.slice(eq + 1) === "-" ? stdin : pair.slice(eq + 1);
        data[key] = props[key]?.type === "string" ? raw : parseValue(raw);
      }
      const b = await client().createBlock(type, name, data, opts.overwrite);
      console.log(`Created block ${b.type}/${b.name}; use it as {{ weir.blocks.${b.type}.${b.name} }}`);
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List blocks (secret fields masked)")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const blocks = await client().listBlocks();
      if (opts.json) return printJson(blocks);
      if (blocks.length === 0)
        return console.log("No blocks yet (create one with: weir block create TYPE NAME --field k=v)");
      printTable(
        ["BLOCK", "FIELDS", "UPDATED"],
        blocks.map((b) => [`${b.type}/${b.name}`, Object.keys(b.data).join(", "), b.updated]),
      );
    });

  cmd
    .command("inspect")
    .description("Show a block; secret fields are masked unless --show-secrets")
    .argument("<block>", "TYPE/NAME")
    .option("--show-secrets", "print secret fields in clear")
    .option("--json", "print JSON (the default)")
    .action(async (ref, opts) => {
      const [type, name] = await splitRef(ref);
      const b = await client().findBlock(type, name, opts.showSecrets);
      if (!b) {
        const { WeirError } = await import("../core/model/index.ts");
        throw new WeirError(
          "NOT_FOUND",
          `Block ${type}/${name} does not exist (list blocks with: weir block ls)`,
        );
      }
      printJson(b);
    });

  cmd
    .command("delete")
    .description("Delete a block")
    .argument("<block>", "TYPE/NAME")
    .action(async (ref) => {
      const [type, name] = await splitRef(ref);
      await client().deleteBlock(type, name);
      console.log(`Deleted block ${type}/${name}`);
    });
}
