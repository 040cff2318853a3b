// The web UI in a real browser: Debian's Chromium driven by playwright-core against the compiled
// binary (server and agent), as a user would operate Weir. With WEIR_SCREENSHOTS=DIR it also writes
// screenshots of the main pages, light and dark, into DIR (docs/screenshots for the README).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Env } from "../e2e/harness.ts";

setDefaultTimeout(120_000);

const CHROMIUM = process.env.WEIR_CHROMIUM ?? "/usr/bin/chromium";
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`;
if (missing) console.log(`UI browser tests skipped: ${missing}`);

const FLOWS = `import * as v from "valibot";
import { flow, task } from "weir";

const shout = task({ name: "shout" }, async (s: string) => s.toUpperCase());

export const greet = flow(
  {
    name: "greet",
    description: "Says hello",
    params: v.object({
      who: v.string(),
      times: v.optional(v.number(), 1),
      loud: v.optional(v.boolean(), false),
      mood: v.optional(v.picklist(["calm", "happy"]), "calm"),
      extra: v.optional(v.array(v.string()), []),
    }),
  },
  async ({ who, times, loud, mood, extra }, { log }) => {
    for (let i = 0; i < times; i++) log.info(\`hello \${loud ? await shout(who) : who} (\${mood}) \${extra.join(",")}\`);
    return { who };
  },
);

const tally = task({ name: "tally" }, async (n: number) => n);
export const chatty = flow({ name: "chatty" }, async (_p, { log }) => {
  log.info("chatty started");
  // Waits for the test's go (the page is open and following), then logs far more than a page keeps.
  while ((await fetch(process.env.WEIR_API_URL + "/variables/chatty-go")).status !== 200)
    await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 8000; i++) log.info(\`line \${i}\`);
  await tally(8000);
  // Then a few more, for a page opened on the long log.
  while ((await fetch(process.env.WEIR_API_URL + "/variables/chatty-more")).status !== 200)
    await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 300; i++) log.info(\`more \${i}\`);
});

export const slow = flow({ name: "slow" }, async (_p, { log, signal }) => {
  log.info("slow started");
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
});
`;

const YAML = `deployments:
  - name: hello
    entrypoint: flows/f.ts:greet
    parameters: { who: World }
    tags: [demo, greetings]
    schedules: [{ interval: 3600 }]
    work_pool: { name: local }
  - name: chatty
    entrypoint: flows/f.ts:chatty
    work_pool: { name: local }
  - name: forever
    entrypoint: flows/f.ts:slow
    tags: [demo]
    work_pool: { name: local }
`;

const SECRET = "s3cr3t-Value-9f8e7d";

// biome-ignore lint/suspicious/noExplicitAny: API answers read in assertions
const getJson = async (url: string): Promise<any> => (await fetch(url)).json();

let env: Env;
let browser: Browser;
let context: BrowserContext;
let p: Page;
let base: string;

describe.skipIf(!!missing)("the UI in Chromium", () => {
  beforeAll(async () => {
    env = new Env();
    const project = env.project("ui", { "flows/f.ts": FLOWS, "weir.yaml": YAML });
    await env.startServer();
    expect((await env.cli(["work-pool", "create", "local"])).code).toBe(0);
    expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
    await env.startAgent("local");
    base = `http://127.0.0.1:${env.port}`;
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context = await browser.newContext();
    // A page that never shows what a step waits for fails that step within 30 s, naming it,
    // instead of hanging the test to its own timeout (after which the runner kills the browser).
    context.setDefaultTimeout(30_000);
    p = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.dispose();
  });

  test("find a deployment, run it with a custom parameter, see it complete with its log line live", async () => {
    await p.goto(`${base}/deployments`);
    await p.getByLabel("Search").fill("greet");
    await p.getByRole("button", { name: "Filter deployments" }).click();
    await expect(p.getByRole("link", { name: "greet/hello" }).count()).resolves.toBe(1);
    expect(await p.getByRole("link", { name: "slow/forever" }).count()).toBe(0);
    await p.getByRole("link", { name: "greet/hello" }).click();
    await p.getByRole("link", { name: "Custom run…" }).click();
    // the form comes from the parameter schema, with the deployment's defaults filled in
    expect(await p.getByLabel("who (required)").inputValue()).toBe("World");
    expect(await p.getByLabel("times").inputValue()).toBe("1");
    // a value the flow refuses: the error shows next to its field, nothing is started
    await p.getByLabel("extra (JSON)").fill('["ok", 5]');
    await p.getByRole("button", { name: "Start this run" }).click();
    await p.getByText("Some fields need fixing").or(p.getByText("The run was not started")).waitFor();
    expect(await p.locator("#p-extra-err").textContent()).toContain("extra");
    await p.getByLabel("extra (JSON)").fill('["a", "b"]');
    await p.getByLabel("who (required)").fill("Ada");
    await p.getByLabel("times").fill("2");
    await p.getByLabel("loud").check();
    await p.getByLabel("mood").selectOption({ label: "happy" });
    await p.getByLabel("Extra tags (comma separated)").fill("from-ui");
    await p.getByRole("button", { name: "Start this run" }).click();
    await p.waitForURL(/\/runs\//);
    // the log line and the final state arrive on the open page (no reload)
    await p.locator("#logs").getByText("hello ADA (happy) a,b").first().waitFor({ timeout: 30_000 });
    await p.locator("#state").getByText("Completed").waitFor({ timeout: 30_000 });
    await p.getByRole("button", { name: "Retry this run" }).waitFor();
    expect(await p.locator("#cancel").isVisible()).toBe(false);
    const id = p.url().split("/runs/")[1]!;
    const run = await getJson(`${env.apiUrl}/flow-runs/${id}`);
    expect(run.parameters).toEqual({ who: "Ada", times: 2, loud: true, mood: "happy", extra: ["a", "b"] });
    expect(run.tags).toContain("from-ui");
    await p.goto(`${base}/?tag=from-ui`);
    expect(await p.getByRole("link", { name: run.name }).count()).toBe(1);
  });

  test("a chatty run followed live keeps the page's last lines, and its task runs appear without a reload", async () => {
    await p.goto(`${base}/deployments`);
    await p.getByRole("button", { name: "Quick run chatty/chatty" }).click();
    await p.waitForURL(/\/runs\//);
    await p.locator("#logs").getByText("chatty started").waitFor({ timeout: 30_000 });
    expect(await p.locator("#tasks h2").textContent()).toBe("Task runs (0)");
    await fetch(`${env.apiUrl}/variables/chatty-go`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: '{"value":1}',
    });
    await p.locator("#logs").getByText("line 7999").waitFor({ timeout: 60_000 });
    const shown = (await p.locator("#logs").textContent())!.split("\n").filter(Boolean);
    expect(shown.length).toBeLessThanOrEqual(5000);
    expect(shown.at(-1)).toContain("line 7999");
    expect(await p.locator("#left-out").textContent()).toContain("Older lines are no longer shown here.");
    await p.locator("#tasks h2").getByText("Task runs (1)").waitFor({ timeout: 30_000 });
    expect(await p.locator("#tasks th").nth(2).textContent()).toBe("Attempts");
    expect(await p.locator("#tasks td").nth(2).textContent()).toBe("1");
    // Opened again on the long log, it keeps its last lines when more arrive (not only the new ones).
    await p.reload();
    expect(await p.locator("#left-out").textContent()).toContain("Showing the last 5,000 of 8,001 lines.");
    await fetch(`${env.apiUrl}/variables/chatty-more`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: '{"value":1}',
    });
    await p.locator("#state").getByText("Completed").waitFor({ timeout: 60_000 });
    await p.locator("#logs").getByText("more 299").waitFor({ timeout: 30_000 });
    const kept = (await p.locator("#logs").textContent())!.split("\n").filter(Boolean);
    expect(kept.length).toBeGreaterThanOrEqual(4800);
    expect(kept.length).toBeLessThanOrEqual(5000);
    expect(kept.at(-1)).toContain("more 299");
  });

  test("cancel a long run from its page", async () => {
    await p.goto(`${base}/deployments`);
    await p.getByRole("button", { name: "Quick run slow/forever" }).click();
    await p.waitForURL(/\/runs\//);
    await p.locator("#logs").getByText("slow started").waitFor({ timeout: 30_000 });
    p.once("dialog", (d) => d.accept());
    await p.getByRole("button", { name: "Cancel this run" }).click();
    await p.getByText("Cancellation requested").waitFor();
    await p.locator("#state").getByText("Cancelled").waitFor({ timeout: 30_000 });
    const id = p.url().split("/runs/")[1]!;
    expect((await getJson(`${env.apiUrl}/flow-runs/${id}`)).state.type).toBe("CANCELLED");
  });

  test("edit a deployment's default parameters", async () => {
    await p.goto(`${base}/deployments`);
    await p.getByRole("link", { name: "greet/hello" }).click();
    await p.getByRole("link", { name: "Edit description, parameters and tags" }).click();
    await p.getByLabel("Default parameters (JSON object)").fill('{"who": 7}');
    await p.getByRole("button", { name: "Save changes" }).click();
    // refused by the API's own check of the flow's schema, shown at the field
    expect(await p.locator("#parameters-err").textContent()).toContain('parameter "who" must be string');
    await p.getByLabel("Default parameters (JSON object)").fill('{"who": "Grace", "times": 3}');
    await p.getByLabel("Description").fill("Greets people");
    await p.getByRole("button", { name: "Save changes" }).click();
    await p.getByText("Saved.").waitFor();
    const d = await getJson(`${env.apiUrl}/deployments/name/greet/hello`);
    expect([d.parameters, d.description]).toEqual([{ who: "Grace", times: 3 }, "Greets people"]);
    await p.getByRole("button", { name: "Quick run (defaults)" }).click();
    await p.locator("#logs").getByText("hello Grace (calm)").first().waitFor({ timeout: 30_000 });
  });

  test("pause a schedule and a work queue", async () => {
    await p.goto(`${base}/deployments`);
    await p.getByRole("link", { name: "greet/hello" }).click();
    await p.getByRole("button", { name: "Pause this schedule" }).click();
    await p.getByText("Schedule paused.").waitFor();
    const d = await getJson(`${env.apiUrl}/deployments/name/greet/hello`);
    expect(d.schedules[0].active).toBe(false);
    await p.goto(`${base}/work-pools`);
    expect(await p.getByText("ONLINE").count()).toBeGreaterThan(0);
    await p.getByRole("button", { name: "Pause queue default of local" }).click();
    await p.getByText("Queue paused.").waitFor();
    await p.getByRole("button", { name: "Resume queue default of local" }).click();
    await p.getByText("Queue resumed.").waitFor();
  });

  test("a secret block's value never reaches a page", async () => {
    const seen: string[] = [];
    p.on("response", async (r) => {
      if (r.url().startsWith(base)) seen.push(await r.text().catch(() => ""));
    });
    await p.goto(`${base}/blocks`);
    await p.getByLabel("Type").selectOption("secret");
    await p.getByRole("button", { name: "New block of this type…" }).click();
    await p.getByLabel("Name").fill("db-password");
    await p.getByLabel("value (required)").fill(SECRET);
    await p.getByRole("button", { name: "Create block" }).click();
    await p.getByText("Block secret/db-password created.").waitFor();
    // editing: the secret is shown masked, not in the form; left empty it is kept
    expect(await p.getByLabel("value (required)").inputValue()).toBe("");
    expect(await p.getByText("Secret, set: ******** (never shown)").count()).toBe(1);
    await p.getByRole("button", { name: "Save block" }).click();
    await p.getByText("Block saved.").waitFor();
    await p.goto(`${base}/blocks`);
    expect(await p.locator("code").filter({ hasText: '{"value":"********"}' }).count()).toBe(1);
    for (const path of [
      "/blocks",
      "/blocks/secret/db-password",
      "/variables",
      "/",
      "/deployments",
      "/work-pools",
    ]) {
      await p.goto(`${base}${path}`);
      expect(await p.content()).not.toContain(SECRET);
    }
    expect(seen.some((t) => t.includes(SECRET))).toBe(false);
    // it is stored and usable: the API gives it to a caller that asks for it
    const b = await getJson(`${env.apiUrl}/blocks/secret/db-password?include_secrets=true`);
    expect(b.data.value).toBe(SECRET);
    p.removeAllListeners("response");
  });

  test("variables: create, edit, delete", async () => {
    await p.goto(`${base}/variables`);
    await p.getByLabel("Name").fill("region");
    await p.getByLabel("Value").fill('"eu-west"');
    await p.getByRole("button", { name: "Save variable" }).click();
    await p.getByText("Variable region saved.").waitFor();
    // Setting it again from the new-variable form does not replace it (and its tags) unseen.
    await p.getByLabel("Name").fill("region");
    await p.getByLabel("Value").fill('"elsewhere"');
    await p.getByRole("button", { name: "Save variable" }).click();
    await p.getByText("variable region already exists; use its Edit link to change it").waitFor();
    expect((await getJson(`${env.apiUrl}/variables/region`)).value).toBe("eu-west");
    await p.getByRole("link", { name: "Edit variable region" }).click();
    await p.getByLabel("Value").fill('{"name": "eu-central"}');
    await p.getByRole("button", { name: "Save variable" }).click();
    await p.getByText("Variable region saved.").waitFor();
    expect((await getJson(`${env.apiUrl}/variables/region`)).value).toEqual({ name: "eu-central" });
    p.once("dialog", (d) => d.accept());
    await p.getByRole("button", { name: "Delete variable region" }).click();
    await p.getByText("Variable region deleted.").waitFor();
    expect((await fetch(`${env.apiUrl}/variables/region`)).status).toBe(404);
  });

  test("every field has a label, every button a name; pages read without scripts and on a phone", async () => {
    const paths = ["/", "/deployments", "/work-pools", "/blocks", "/variables", "/blocks/new?type=secret"];
    const d = await getJson(`${env.apiUrl}/deployments/name/greet/hello`);
    paths.push(`/deployments/${d.id}`, `/deployments/${d.id}/run`, `/deployments/${d.id}/edit`);
    for (const path of paths) {
      await p.goto(`${base}${path}`);
      // biome-ignore lint/suspicious/noExplicitAny: DOM elements, in the page
      const unlabeled = await p.$$eval("input:not([type=hidden]), select, textarea", (els: any[]) =>
        els
          .filter((el) => !(el.labels && el.labels.length > 0) && !el.getAttribute("aria-label"))
          .map((el) => el.name),
      );
      expect([path, unlabeled]).toEqual([path, []]);
      const nameless = await p.$$eval(
        "button, a",
        (els) => els.filter((e) => !(e.textContent ?? "").trim() && !e.getAttribute("aria-label")).length,
      );
      expect([path, nameless]).toEqual([path, 0]);
    }
    // keyboard: the first Tab reaches the skip link
    await p.goto(`${base}/`);
    await p.keyboard.press("Tab");
    expect(await p.evaluate("document.activeElement && document.activeElement.textContent")).toBe(
      "Skip to content",
    );
    const noJs = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 390, height: 844 },
    });
    const q = await noJs.newPage();
    await q.goto(`${base}/deployments`);
    await q.getByRole("link", { name: "greet/hello" }).click();
    await q
      .getByRole("link", { name: "Recent runs" })
      .or(q.getByRole("heading", { name: "Recent runs" }))
      .first()
      .waitFor();
    // nothing wider than the phone's screen but scrolling boxes
    const wide = await q.evaluate("document.documentElement.scrollWidth > window.innerWidth");
    expect(wide).toBe(false);
    // A long value and the hidden labels of tables do not stretch a page sideways either.
    await fetch(`${env.apiUrl}/variables/long-one`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "x".repeat(5000) }),
    });
    for (const path of ["/variables", "/deployments", "/blocks", "/"]) {
      await q.goto(`${base}${path}`);
      const width = await q.evaluate("document.documentElement.scrollWidth - window.innerWidth");
      expect([path, width]).toEqual([path, 0]);
    }
    await fetch(`${env.apiUrl}/variables/long-one`, { method: "DELETE" });
    await noJs.close();
  });

  test("screenshots of the main pages, light and dark", async () => {
    const dir = process.env.WEIR_SCREENSHOTS;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    const d = await getJson(`${env.apiUrl}/deployments/name/greet/hello`);
    const runs = await getJson(`${env.apiUrl}/flow-runs?deployment=${d.id}&state=COMPLETED`);
    const pages: [string, string][] = [
      ["runs", "/"],
      ["run", `/runs/${runs[0].id}`],
      ["deployments", "/deployments"],
      ["deployment", `/deployments/${d.id}`],
      ["custom-run", `/deployments/${d.id}/run`],
      ["work-pools", "/work-pools"],
    ];
    for (const scheme of ["light", "dark"] as const) {
      const shot = await browser.newContext({ colorScheme: scheme, viewport: { width: 1200, height: 800 } });
      const page = await shot.newPage();
      for (const [name, path] of pages) {
        await page.goto(`${base}${path}`);
        await page.screenshot({ path: join(dir, `${name}-${scheme}.png`), fullPage: name === "run" });
      }
      await shot.close();
    }
  });
});
