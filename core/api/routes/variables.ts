import * as q from "../../store/index.ts";
import type { ApiContext } from "../context.ts";
import type { Router } from "../router.ts";
import { VariableBody } from "../schemas.ts";
import { param, readBody } from "../validate.ts";

export function variableRoutes(r: Router, ctx: ApiContext): void {
  const db = ctx.store.db;
  r.route("get", "/api/variables", "List variables", async (c) => c.json(await q.listVariables(db)));
  r.route("get", "/api/variables/:name", "Read a variable", async (c) =>
    c.json(await q.getVariable(db, param(c, "name"))),
  );
  r.route(
    "put",
    "/api/variables/:name",
    "Set a variable to a JSON value",
    async (c) => {
      const body = await readBody(c, VariableBody);
      return c.json(await q.setVariable(db, param(c, "name"), body.value, body.tags));
    },
    VariableBody,
  );
  r.route("delete", "/api/variables/:name", "Delete a variable", async (c) => {
    await q.deleteVariable(db, param(c, "name"));
    return c.json({ deleted: param(c, "name") });
  });
}
