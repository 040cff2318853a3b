import type { ReadyContext } from "../context.ts";
import type { Router } from "../router.ts";
import { check, page, param, readBody } from "../validate.ts";

export function variableRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const { VariableBody, variableName } = ctx.schemas;
  r.route("get", "/api/variables", "List variables (?limit=N&offset=N)", async (c) =>
    c.json(await store.listVariables(page(c, ctx.limits))),
  );
  r.route("get", "/api/variables/:name", "Read a variable", async (c) =>
    c.json(await store.getVariable(param(c, "name"))),
  );
  r.route(
    "put",
    "/api/variables/:name",
    "Set a variable to a JSON value",
    async (c) => {
      const body = await readBody(c, VariableBody, ctx.limits);
      const varName = check(variableName, param(c, "name"), "variable name");
      return c.json(await store.setVariable(varName, body.value, body.tags));
    },
    VariableBody,
  );
  r.route("delete", "/api/variables/:name", "Delete a variable", async (c) => {
    await store.deleteVariable(param(c, "name"));
    return c.json({ deleted: param(c, "name") });
  });
}
