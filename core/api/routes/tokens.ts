import * as v from "valibot";
import { newToken, SCOPES, tokenHash } from "../../auth/index.ts";
import { WeirError } from "../../model/index.ts";
import type { ReadyContext } from "../context.ts";
import type { Router } from "../router.ts";
import { param, readBody } from "../validate.ts";

const TokenBody = v.strictObject({
  name: v.pipe(
    v.string(),
    v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a name of letters, digits, '.', '_' and '-' (up to 64)"),
  ),
  scope: v.picklist(SCOPES, `one of ${SCOPES.join(", ")}`),
  work_pool_name: v.optional(v.nullable(v.string())),
  /** Lifetime in seconds; absent or null: until revoked. */
  expires_in_seconds: v.optional(
    v.nullable(
      v.pipe(
        v.number(),
        v.integer(),
        v.minValue(60),
        v.maxValue(
          100 * 365 * 86_400,
          "must be at most 100 years (3153600000 s); leave it out for a token that never expires",
        ),
      ),
    ),
  ),
});

/** API tokens: created (the value is in this one answer only), listed without values, revoked. */
export function tokenRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  r.route(
    "post",
    "/api/tokens",
    "Create an API token; the answer holds its value, which is never shown again",
    async (c) => {
      const body = await readBody(c, TokenBody, ctx.limits);
      if (body.work_pool_name && body.scope !== "agent")
        throw new WeirError("INVALID", "work_pool_name binds agent tokens only (use it with scope agent)", {
          fields: { work_pool_name: "only with scope agent" },
        });
      if (body.work_pool_name) await store.getWorkPool(body.work_pool_name);
      const token = newToken();
      const info = await store.createToken({
        name: body.name,
        scope: body.scope,
        hash: tokenHash(token),
        workPoolName: body.work_pool_name ?? null,
        expires: body.expires_in_seconds
          ? new Date(Date.now() + body.expires_in_seconds * 1000).toISOString()
          : null,
      });
      return c.json({ ...info, token }, 201);
    },
    TokenBody,
  );
  r.route("get", "/api/tokens", "List API tokens (names, scopes, expiry; never values)", async (c) =>
    c.json(await store.listTokens()),
  );
  r.route("post", "/api/tokens/:name/revoke", "Revoke an API token by name or id", async (c) => {
    const info = await store.revokeToken(param(c, "name"));
    ctx.auth?.forget();
    return c.json(info);
  });
}
