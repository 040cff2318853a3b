import type { Context } from "hono";
import { forbidden, maySeeSecrets } from "../../auth/index.ts";
import { type BlockDocument, blockTypeSchema, maskSecrets } from "../../model/index.ts";
import { callerOf } from "../callers.ts";
import type { ReadyContext } from "../context.ts";
import type { Router } from "../router.ts";
import { page, param, readBody } from "../validate.ts";

export function blockRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const types = ctx.registry;
  /** Secret fields are masked unless the caller asks with ?include_secrets=true. */
  const present = (b: BlockDocument, includeSecrets: boolean) => ({
    ...b,
    data: includeSecrets ? b.data : maskSecrets(types.blockType(b.type), b.data),
  });
  const { BlockBody } = ctx.schemas;
  const secrets = (c: Context) => {
    if (c.req.query("include_secrets") !== "true") return false;
    if (!maySeeSecrets(callerOf(c)))
      throw forbidden(
        "a read token may not see secret values (?include_secrets=true needs an agent, deploy or admin token)",
      );
    return true;
  };

  r.route("get", "/api/block-types", "Block types with their JSON schemas and secret fields", (c) =>
    c.json(
      types.blockTypes.map((t) => ({
        slug: t.slug,
        name: t.name,
        description: t.description,
        schema: blockTypeSchema(t),
      })),
    ),
  );
  r.route(
    "post",
    "/api/blocks",
    "Create a block (?overwrite=true replaces one with the same type and name)",
    async (c) => {
      const body = await readBody(c, BlockBody, ctx.limits);
      const b = await store.saveBlock(
        types,
        body.type,
        body.name,
        body.data,
        c.req.query("overwrite") === "true",
      );
      return c.json(present(b, false), 201);
    },
    BlockBody,
  );
  r.route(
    "get",
    "/api/blocks",
    "List blocks (secrets masked unless ?include_secrets=true; ?limit=N&offset=N)",
    async (c) => c.json((await store.listBlocks(page(c, ctx.limits))).map((b) => present(b, secrets(c)))),
  );
  r.route(
    "get",
    "/api/blocks/:type/:name",
    "Read a block (secrets masked unless ?include_secrets=true)",
    async (c) => c.json(present(await store.getBlock(param(c, "type"), param(c, "name")), secrets(c))),
  );
  r.route("delete", "/api/blocks/:type/:name", "Delete a block", async (c) => {
    await store.deleteBlock(param(c, "type"), param(c, "name"));
    return c.json({ deleted: `${param(c, "type")}/${param(c, "name")}` });
  });
}
