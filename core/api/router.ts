import { toJsonSchema } from "@valibot/to-json-schema";
import type { Context, Hono } from "hono";
import type * as v from "valibot";
import { type Access, accessOf, type Caller, requireAccess, requireRunRead } from "../auth/index.ts";

type Method = "get" | "post" | "put" | "patch" | "delete";

interface RouteDoc {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  body?: v.GenericSchema;
  access: Access;
}

/**
 * Registers routes on a Hono app and remembers what each one is for, so the OpenAPI document is
 * generated from the same table the server runs and cannot drift from it.
 */
export class Router {
  readonly docs: RouteDoc[] = [];
  constructor(
    readonly app: Hono,
    readonly tag: string,
    /** The runs above a run (its parent, ...): a run token may read its subflow runs too. */
    readonly ancestors: (id: string) => Promise<string[]> = async () => [],
  ) {}

  for(tag: string): Router {
    const r = new Router(this.app, tag, this.ancestors);
    (r as { docs: RouteDoc[] }).docs = this.docs;
    return r;
  }

  route(
    method: Method,
    path: string,
    summary: string,
    handler: (c: Context) => Response | Promise<Response>,
    body?: v.GenericSchema,
  ): this {
    const access = accessOf(method, path);
    this.docs.push({ method, path, summary, tag: this.tag, body, access });
    const what = `${method.toUpperCase()} ${path}`;
    this.app[method](path, async (c) => {
      if (access !== "public") {
        const caller = (c as unknown as { get(k: "caller"): Caller }).get("caller");
        requireAccess(caller, access, what);
        if (method === "get") {
          const id = c.req.param("id");
          const below =
            caller.scope === "run" && path.startsWith("/api/flow-runs/:id") && id && id !== caller.flowRunId;
          requireRunRead(caller, path, id, below ? await this.ancestors(id) : []);
        }
      }
      return handler(c);
    });
    return this;
  }

  openapi(version: string): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const d of this.docs) {
      const oaPath = d.path.replace(/:(\w+)/g, "{$1}");
      const params = [...d.path.matchAll(/:(\w+)/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
      const op: Record<string, unknown> = {
        summary: d.summary,
        tags: [d.tag],
        parameters: params,
        "x-weir-access": d.access,
        responses: {
          "200": { description: "OK" },
          "404": { description: "Not found" },
          "409": { description: "Conflict (e.g. an illegal state transition)" },
          "422": { description: "Invalid input; the message names each field" },
        },
      };
      if (d.body) {
        const schema = toJsonSchema(d.body, { errorMode: "ignore" });
        delete (schema as Record<string, unknown>).$schema;
        op.requestBody = { required: true, content: { "application/json": { schema } } };
      }
      paths[oaPath] = { ...paths[oaPath], [d.method]: op };
    }
    return {
      openapi: "3.1.0",
      info: { title: "Weir API", version },
      servers: [{ url: "/" }],
      paths,
    };
  }
}
