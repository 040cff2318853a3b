import type { Context, Hono } from "hono";
import { html, raw } from "hono/html";
import type { ApiContext } from "../core/api/index.ts";
import type { BlockDocument, Variable } from "../core/model/index.ts";
import { CONFIRM_SCRIPT, csrfField, type Html, json, page, postButton, when } from "./layout.ts";
import { backTo, chrome, formOf, type Ui, uiOf } from "./session.ts";

interface BlockTypeInfo {
  slug: string;
  name: string;
  description: string;
  schema: {
    properties: Record<string, { type?: string; description?: string; writeOnly?: boolean }>;
    required: string[];
    secret_fields: string[];
  };
}

/**
 * Blocks and variables: list, create, edit, delete. A block's secret fields are write-only here:
 * the pages only ever hold the API's masked answer, and a secret left empty when editing keeps
 * its stored value (the API merges it).
 */
export function blockPages(app: Hono, ctx: ApiContext): void {
  app.get("/blocks", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const [blocks, types] = await Promise.all([
      ui.api<BlockDocument[]>("GET", "/api/blocks?limit=1000"),
      ui.api<BlockTypeInfo[]>("GET", "/api/block-types"),
    ]);
    const list = blocks.ok ? blocks.data : [];
    return c.html(
      page(
        "Blocks",
        html`<h1>Blocks</h1>
        <p class="mute">Typed configuration and credentials, used in weir.yaml as <code>{{ weir.blocks.TYPE.NAME }}</code>. Secret fields are never shown.</p>
        <form class="filters act admin" method="get" action="/blocks/new" aria-label="New block">
          <label>Type<select name="type">${(types.ok ? types.data : []).map((t) => html`<option value="${t.slug}">${t.name} (${t.slug})</option>`)}</select></label>
          <button type="submit">New block of this type…</button>
        </form>
        ${
          list.length
            ? html`<div class="box"><table><thead><tr><th scope="col">Block</th><th scope="col">Type</th><th scope="col">Fields (secrets masked)</th><th scope="col">Updated</th><th scope="col"><span class="vh">Actions</span></th></tr></thead><tbody>
          ${list.map(
            (
              b,
            ) => html`<tr><td><a href="/blocks/${b.type}/${b.name}">${b.name}</a></td><td>${b.type}</td><td><code>${summary(b.data)}</code></td><td>${when(b.updated)}</td>
            <td>${postButton(
              `/blocks/${b.type}/${b.name}/delete`,
              html`Delete<span class="vh"> block ${b.type}/${b.name}</span>`,
              ui.csrf,
              {
                danger: true,
                admin: true,
                confirm: `Delete block ${b.type}/${b.name}?`,
              },
            )}</td></tr>`,
          )}</tbody></table></div>`
            : html`<p class="mute">No blocks yet.</p>`
        }`,
        chrome(c, ui, "/blocks", { problem: blocks.ok ? null : blocks.error, script: CONFIRM_SCRIPT }),
      ),
    );
  });

  const typeOf = async (ui: Ui, slug: string) => {
    const types = await ui.api<BlockTypeInfo[]>("GET", "/api/block-types");
    return types.ok ? types.data.find((t) => t.slug === slug) : undefined;
  };

  const blockForm = (
    c: Context,
    ui: Ui,
    t: BlockTypeInfo,
    o: {
      block?: BlockDocument;
      form?: Record<string, string>;
      problem?: string;
      errors?: Record<string, string>;
    },
  ) => {
    const editing = !!o.block;
    const errors = o.errors ?? {};
    const fields: Html[] = Object.entries(t.schema.properties).map(([name, f]) => {
      const id = `f-${name}`;
      const secret = t.schema.secret_fields.includes(name);
      const required = t.schema.required.includes(name);
      const stored = o.block?.data[name];
      const sent = o.form?.[`field.${name}`];
      const hint = secret
        ? editing && stored != null
          ? `Secret, set: ${String(stored)} (never shown); leave empty to keep it, or type a new value.`
          : "Secret: write-only, never shown again."
        : f.description;
      const aria = raw(
        ` aria-describedby="${id}-hint${errors[name] ? ` ${id}-err` : ""}"${errors[name] ? ' aria-invalid="true"' : ""}`,
      );
      let input: Html;
      // A secret is never filled in; one that is a mapping (settings, credentials) is typed as JSON.
      if (secret && f.type === "string")
        input = html`<input type="password" id="${id}" name="field.${name}" autocomplete="off" value=""${aria}>`;
      else if (secret)
        input = html`<textarea id="${id}" name="field.${name}" autocomplete="off" spellcheck="false"${aria}></textarea>`;
      else if (f.type === "boolean")
        input = html`<input type="hidden" name="field.${name}" value="false"><input type="checkbox" id="${id}" name="field.${name}" value="true"${
          (sent ?? String(stored)) === "true" ? raw(" checked") : ""
        }${aria}>`;
      else if (f.type === "string")
        input = html`<input id="${id}" name="field.${name}" value="${sent ?? (stored == null ? "" : String(stored))}"${aria}>`;
      else
        input = html`<textarea id="${id}" name="field.${name}"${aria}>${sent ?? (stored === undefined ? "" : json(stored))}</textarea>`;
      return html`<div class="field"><label for="${id}">${name}${required ? html` <span class="mute">(required)</span>` : ""}${
        f.type !== "string" && f.type !== "boolean" ? html` <span class="mute">(JSON)</span>` : ""
      }</label><div class="hint" id="${id}-hint">${secret ? hint : (hint ?? "")}${secret && f.description ? ` (${f.description})` : ""}</div>${input}${
        errors[name] ? html`<p class="error" id="${id}-err">${errors[name]}</p>` : ""
      }</div>`;
    });
    const action = editing
      ? `/blocks/${t.slug}/${o.block!.name}`
      : `/blocks/new?type=${encodeURIComponent(t.slug)}`;
    return c.html(
      page(
        editing ? `Block ${t.slug}/${o.block!.name}` : `New ${t.name} block`,
        html`<h1>${editing ? html`Block ${t.slug}/${o.block!.name}` : html`New ${t.name} block`}</h1><p class="mute">${t.description}</p>
        <form method="post" action="${action}" novalidate autocomplete="off">${csrfField(ui.csrf)}
          ${
            editing
              ? ""
              : html`<div class="field"><label for="name">Name</label><div class="hint" id="name-hint">Lower-case letters, digits and '-'.</div><input id="name" name="name" required aria-describedby="name-hint" value="${o.form?.name ?? ""}"></div>`
          }
          ${fields}
          <div class="actions"><button type="submit" class="act admin">${editing ? "Save block" : "Create block"}</button><a class="button quiet" href="/blocks">Back to blocks</a></div>
        </form>
        ${editing ? html`<p class="mute">Use it as <code>{{ weir.blocks.${t.slug}.${o.block!.name} }}</code>. Updated ${when(o.block!.updated)}.</p>` : ""}`,
        chrome(c, ui, "/blocks", { problem: o.problem, script: CONFIRM_SCRIPT }),
      ),
      o.problem ? 422 : 200,
    );
  };

  /** The form's fields as block data; JSON fields parsed; empty secrets left out (kept). */
  const readFields = (t: BlockTypeInfo, form: Record<string, string>, editing: boolean) => {
    const data: Record<string, unknown> = {};
    const errors: Record<string, string> = {};
    for (const [name, f] of Object.entries(t.schema.properties)) {
      const raw_ = form[`field.${name}`];
      if (raw_ === undefined) continue;
      const secret = t.schema.secret_fields.includes(name);
      if (f.type === "boolean") data[name] = raw_ === "true";
      else if (raw_ === "") {
        if (!(secret && editing) && t.schema.required.includes(name)) errors[name] = "required";
      } else if (f.type === "string") data[name] = raw_;
      else
        try {
          data[name] = JSON.parse(raw_);
        } catch (e) {
          errors[name] = `not valid JSON: ${(e as Error).message}`;
        }
    }
    return { data, errors };
  };

  app.get("/blocks/new", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const t = await typeOf(ui, c.req.query("type") ?? "");
    if (!t) return backTo(c, "/blocks", `Unknown block type "${c.req.query("type") ?? ""}"`, true);
    return blockForm(c, ui, t, {});
  });

  app.post("/blocks/new", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const t = await typeOf(ui, c.req.query("type") ?? "");
    if (!t) return backTo(c, "/blocks", `Unknown block type "${c.req.query("type") ?? ""}"`, true);
    const form = await formOf(c, ui);
    if (!form) return blockForm(c, ui, t, { problem: "The form expired: send it again." });
    const { data, errors } = readFields(t, form, false);
    if (Object.keys(errors).length)
      return blockForm(c, ui, t, {
        form: clean(form),
        errors,
        problem: "Some fields need fixing (see below).",
      });
    const r = await ui.api<BlockDocument>("POST", "/api/blocks", {
      type: t.slug,
      name: form.name ?? "",
      data,
    });
    if (!r.ok) return blockForm(c, ui, t, { form: clean(form), problem: `Not created: ${r.error}` });
    return backTo(c, `/blocks/${t.slug}/${r.data.name}`, `Block ${t.slug}/${r.data.name} created.`);
  });

  const loadBlock = async (c: Context, ui: Ui) => {
    const [type, name] = [c.req.param("type") ?? "", c.req.param("name") ?? ""];
    const [b, t] = await Promise.all([
      ui.api<BlockDocument>("GET", `/api/blocks/${encodeURIComponent(type)}/${encodeURIComponent(name)}`),
      typeOf(ui, type),
    ]);
    return b.ok && t
      ? { block: b.data, type: t }
      : { error: b.ok ? `Unknown block type "${type}"` : b.error };
  };

  app.get("/blocks/:type/:name", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const got = await loadBlock(c, ui);
    if ("error" in got)
      return c.html(page("Not found", html`<h1>Block not found</h1><p>${got.error}</p>`), 404);
    return blockForm(c, ui, got.type, { block: got.block });
  });

  app.post("/blocks/:type/:name", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const got = await loadBlock(c, ui);
    if ("error" in got) return backTo(c, "/blocks", got.error ?? "Not found", true);
    const form = await formOf(c, ui);
    if (!form)
      return blockForm(c, ui, got.type, { block: got.block, problem: "The form expired: send it again." });
    const { data, errors } = readFields(got.type, form, true);
    if (Object.keys(errors).length)
      return blockForm(c, ui, got.type, {
        block: got.block,
        form: clean(form),
        errors,
        problem: "Some fields need fixing (see below).",
      });
    const r = await ui.api(
      "PATCH",
      `/api/blocks/${encodeURIComponent(got.block.type)}/${encodeURIComponent(got.block.name)}`,
      { data },
    );
    if (!r.ok)
      return blockForm(c, ui, got.type, {
        block: got.block,
        form: clean(form),
        problem: `Not saved: ${r.error}`,
      });
    return backTo(c, `/blocks/${got.block.type}/${got.block.name}`, "Block saved.");
  });

  app.post("/blocks/:type/:name/delete", async (c) => {
    const ui = await uiOf(app, ctx, c);
    if (!(await formOf(c, ui)))
      return backTo(c, "/blocks", "The form expired: reload the page and try again.", true);
    const [type, name] = [c.req.param("type"), c.req.param("name")];
    const r = await ui.api("DELETE", `/api/blocks/${encodeURIComponent(type)}/${encodeURIComponent(name)}`);
    if (!r.ok) return backTo(c, "/blocks", `Not deleted: ${r.error}`, true);
    return backTo(c, "/blocks", `Block ${type}/${name} deleted.`);
  });

  // Variables

  const variableForm = (
    c: Context,
    ui: Ui,
    list: Variable[],
    o: { form?: Record<string, string>; problem?: string; edit?: Variable } = {},
  ) =>
    c.html(
      page(
        "Variables",
        html`<h1>Variables</h1>
        <p class="mute">Named JSON values, used in weir.yaml as <code>{{ weir.variables.NAME }}</code>.</p>
        ${
          list.length
            ? html`<div class="box"><table><thead><tr><th scope="col">Variable</th><th scope="col">Value</th><th scope="col">Tags</th><th scope="col">Updated</th><th scope="col"><span class="vh">Actions</span></th></tr></thead><tbody>
          ${list.map(
            (
              v,
            ) => html`<tr><td>${v.name}</td><td><code>${JSON.stringify(v.value)}</code></td><td>${v.tags.join(", ")}</td><td>${when(v.updated)}</td>
            <td><a class="act admin" href="/variables?edit=${encodeURIComponent(v.name)}#variable-form">Edit<span class="vh"> variable ${v.name}</span></a>
            ${postButton(
              `/variables/${encodeURIComponent(v.name)}/delete`,
              html`Delete<span class="vh"> variable ${v.name}</span>`,
              ui.csrf,
              {
                danger: true,
                admin: true,
                confirm: `Delete variable ${v.name}?`,
              },
            )}</td></tr>`,
          )}</tbody></table></div>`
            : html`<p class="mute">No variables yet.</p>`
        }
        <h2 id="variable-form" class="act admin">${o.edit ? `Edit variable ${o.edit.name}` : "Set a variable"}</h2>
        <form method="post" action="/variables" class="act admin" novalidate>${csrfField(ui.csrf)}${
          o.edit ? raw('<input type="hidden" name="editing" value="1">') : ""
        }
          <div class="field"><label for="v-name">Name</label><input id="v-name" name="name" required value="${o.form?.name ?? o.edit?.name ?? ""}"${o.edit ? raw(" readonly") : ""}></div>
          <div class="field"><label for="v-value">Value</label><div class="hint" id="v-value-hint">JSON (such as 42, true, "text" or {"a": 1}); anything else is kept as text.</div>
          <textarea id="v-value" name="value" aria-describedby="v-value-hint">${o.form?.value ?? (o.edit ? JSON.stringify(o.edit.value) : "")}</textarea></div>
          <div class="field"><label for="v-tags">Tags (comma separated)</label><input id="v-tags" name="tags" value="${o.form?.tags ?? o.edit?.tags.join(", ") ?? ""}"></div>
          <div class="actions"><button type="submit">Save variable</button>${o.edit ? html`<a class="button quiet" href="/variables">Cancel editing</a>` : ""}</div>
        </form>`,
        chrome(c, ui, "/variables", { problem: o.problem, script: CONFIRM_SCRIPT }),
      ),
      o.problem ? 422 : 200,
    );

  const variables = async (ui: Ui) => {
    const r = await ui.api<Variable[]>("GET", "/api/variables?limit=1000");
    return r.ok ? r.data : [];
  };

  app.get("/variables", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const list = await variables(ui);
    const edit = list.find((v) => v.name === c.req.query("edit"));
    return variableForm(c, ui, list, { edit });
  });

  app.post("/variables", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const form = await formOf(c, ui);
    if (!form)
      return variableForm(c, ui, await variables(ui), { problem: "The form expired: send it again." });
    const name = (form.name ?? "").trim();
    // "Set a variable" makes a new one: a name in use is changed through its Edit link, which
    // shows its value and tags, not replaced with what this form holds.
    if (
      form.editing !== "1" &&
      name &&
      (await ui.api("GET", `/api/variables/${encodeURIComponent(name)}`)).ok
    )
      return variableForm(c, ui, await variables(ui), {
        form,
        problem: `Not saved: variable ${name} already exists; use its Edit link to change it (its value and tags are kept until you do)`,
      });
    const text = form.value ?? "";
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // kept as text
    }
    const r = await ui.api("PUT", `/api/variables/${encodeURIComponent(name)}`, {
      value,
      tags: (form.tags ?? "")
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    });
    if (!r.ok) return variableForm(c, ui, await variables(ui), { form, problem: `Not saved: ${r.error}` });
    return backTo(c, "/variables", `Variable ${name} saved.`);
  });

  app.post("/variables/:name/delete", async (c) => {
    const ui = await uiOf(app, ctx, c);
    if (!(await formOf(c, ui)))
      return backTo(c, "/variables", "The form expired: reload the page and try again.", true);
    const name = c.req.param("name");
    const r = await ui.api("DELETE", `/api/variables/${encodeURIComponent(name)}`);
    if (!r.ok) return backTo(c, "/variables", `Not deleted: ${r.error}`, true);
    return backTo(c, "/variables", `Variable ${name} deleted.`);
  });
}

/** A sent form to show again, without its CSRF token (secret inputs are never filled from it). */
function clean(form: Record<string, string>): Record<string, string> {
  const out = { ...form };
  delete out.csrf;
  return out;
}

/** A block's data in one line, as the API gives it (secret fields already masked), cut short. */
function summary(data: Record<string, unknown>): string {
  const text = JSON.stringify(data);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
