import type { Context } from "hono";
import { forbidden, maySeeSecrets } from "../../auth/index.ts";
import { type BlockDocument, blockTypeSchema, maskSecrets, secretFieldNames } from "../../model/index.ts";
import { callerOf, secretGrant } from "../callers.ts";
import type { ReadyContext } from "../context.ts";
import type { Router } from "../router.ts";
import { page, param, readBody } from "../validate.ts";

export function blockRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const types = ctx.registry;
  const box = ctx.secretBox ?? null;
  const secretFields = (type: string) => secretFieldNames(types.blockType(type));
  /** Secret fields are masked unless the caller asks with ?include_secrets=true (and may). */
  const present = async (b: BlockDocument, includeSecrets: boolean) => ({
    ...b,
    data: includeSecrets
      ? box
        ? await box.openFields(b.data, secretFields(b.type))
        : b.data
      : maskSecrets(types.blockType(b.type), b.data),
  });
  const { BlockBody } = ctx.schemas;
  /** Which blocks' secret values this request shows: none unless asked (and allowed) for. */
  const secrets = async (c: Context): Promise<Set<string> | "all" | null> => {
    if (c.req.query("include_secrets") !== "true") return null;
    const caller = callerOf(c);
    if (!maySeeSecrets(caller))
      throw forbidden(
        "a read token may not see secret values (?include_secrets=true needs an agent, deploy or admin token)",
      );
    return secretGrant(ctx, caller);
  };
  const granted = (grant: Set<string> | "all" | null, b: { type: string; name: string }) =>
    grant === "all" || !!grant?.has(`${b.type}/${b.name}`);

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
        box ? (data) => box.sealFields(data, secretFields(body.type)) : undefined,
      );
      return c.json(await present(b, false), 201);
    },
    BlockBody,
  );
  r.route(
    "get",
    "/api/blocks",
    "List blocks (secrets masked unless ?include_secrets=true; ?limit=N&offset=N)",
    async (c) => {
      const grant = await secrets(c);
      const blocks = await store.listBlocks(page(c, ctx.limits));
      // A narrow token (an agent's for one pool, a run's) sees the values of the blocks it uses.
      return c.json(await Promise.all(blocks.map((b) => present(b, granted(grant, b)))));
    },
  );
  r.route(
    "get",
    "/api/blocks/:type/:name",
    "Read a block (secrets masked unless ?include_secrets=true)",
    async (c) => {
      const grant = await secrets(c);
      const b = await store.getBlock(param(c, "type"), param(c, "name"));
      if (grant && !granted(grant, b) && !granted(grant, { type: param(c, "type"), name: b.name })) {
        const caller = callerOf(c);
        throw forbidden(
          `${caller.scope === "run" ? `this run's token (flow run ${caller.flowRunId})` : `this agent token (work pool "${caller.pool}")`} may read the secret values only of blocks its ${caller.scope === "run" ? "run's parameters, job variables and pull steps" : "pool's template, deployments and started runs"} name; block ${b.type}/${b.name} is not one of them (use it in a placeholder there, or read it with a deploy or admin token)`,
        );
      }
      return c.json(await present(b, grant !== null));
    },
  );
  r.route(
    "patch",
    "/api/blocks/:type/:name",
    "Change some fields of a block; the fields not given (a secret left as it is) are kept",
    async (c) => {
      const body = await readBody(c, ctx.schemas.BlockPatchBody, ctx.limits);
      const stored = await store.getBlock(param(c, "type"), param(c, "name"));
      const secret = secretFields(stored.type);
      const open = box ? await box.openFields(stored.data, secret) : stored.data;
      const data = { ...open, ...body.data };
      const b = await store.saveBlock(
        types,
        stored.type,
        stored.name,
        data,
        true,
        box ? (d) => box.sealFields(d, secret) : undefined,
      );
      return c.json(await present(b, false));
    },
    ctx.schemas.BlockPatchBody,
  );
  r.route("delete", "/api/blocks/:type/:name", "Delete a block", async (c) => {
    await store.deleteBlock(param(c, "type"), param(c, "name"));
    return c.json({ deleted: `${param(c, "type")}/${param(c, "name")}` });
  });
}
