import type { Command } from "@commander-js/extra-typings";
import { client } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";

export function register(program: Command): void {
  const cmd = program
    .command("variable")
    .description("Manage variables: JSON values used as {{ weir.variables.NAME }}");

  cmd
    .command("set")
    .description("Set a variable (value read as JSON, else kept as text)")
    .argument("<name>", "variable name")
    .argument("<value>", "value")
    .action(async (name, raw) => {
      const { parseValue, WeirError } = await import("../core/model/index.ts");
      if (!name.trim())
        throw new WeirError("USAGE", "A variable's name must not be empty (weir variable set NAME VALUE)");
      await client().setVariable(name, parseValue(raw));
      console.log(`Set variable ${name}`);
    });

  cmd
    .command("get")
    .description("Print a variable's value (as JSON)")
    .argument("<name>", "variable name")
    .action(async (name) => {
      const v = await client().findVariable(name);
      if (!v) {
        const { WeirError } = await import("../core/model/index.ts");
        throw new WeirError(
          "NOT_FOUND",
          `Variable "${name}" does not exist (set it with: weir variable set ${name} VALUE)`,
        );
      }
      console.log(typeof v.value === "string" ? v.value : JSON.stringify(v.value));
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List variables")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const vars = await client().listVariables();
      if (opts.json) return printJson(vars);
      if (vars.length === 0)
        return console.log("No variables yet (set one with: weir variable set NAME VALUE)");
      printTable(
        ["NAME", "VALUE", "UPDATED"],
        vars.map((v) => [v.name, JSON.stringify(v.value).slice(0, 60), v.updated]),
      );
    });

  cmd
    .command("unset")
    .description("Delete a variable")
    .argument("<name>", "variable name")
    .action(async (name) => {
      await client().deleteVariable(name);
      console.log(`Unset variable ${name}`);
    });
}
