import { WeirError } from "../../core/model/index.ts";
import { keyValues } from "./options.ts";
import { bold, dim, green, red, yellow } from "./output.ts";
import { type ScheduleFlags, scheduleFromFlags } from "./schedule-flags.ts";

export interface DeployFlags extends ScheduleFlags {
  name?: string[];
  all?: boolean;
  description?: string;
  version?: string;
  tag?: string[];
  pool?: string;
  queue?: string;
  jobVariable?: string[];
  param?: string[];
  params?: string;
  enforceParameterSchema?: boolean;
  file?: string;
  dryRun?: boolean;
  json?: boolean;
}

export async function deployCommand(entrypoint: string | undefined, f: DeployFlags): Promise<void> {
  const { registerFlowModules } = await import("../../core/engine/index.ts");
  const { parseParamFlags } = await import("../../core/model/index.ts");
  const project = await import("../../core/project/index.ts");
  const { WeirClient } = await import("../../core/client/index.ts");
  const { applyValues } = await import("../../core/templating/index.ts");
  registerFlowModules();
  const reg = (await import("./registry.ts")).registry();
  const { terminalProgress } = await import("../../core/steps/index.ts");

  const overlay = {
    description: f.description,
    version: f.version,
    tags: f.tag,
    pool: f.pool,
    queue: f.queue,
    jobVariables: f.jobVariable ? keyValues(f.jobVariable, "--job-variable") : undefined,
    parameters: f.param || f.params ? parseParamFlags(f.param ?? [], f.params) : undefined,
    enforceParameterSchema: f.enforceParameterSchema,
    // checked now, so a typo fails before any step runs
    schedule: (await scheduleFromFlags(f)) ?? undefined,
  };

  let proj: Awaited<ReturnType<typeof project.loadProject>>;
  let names = f.name ?? [];
  let all = Boolean(f.all);
  if (entrypoint) {
    // `weir deploy flows/x.ts:flow -n name -p pool`: a one-off deployment from flags alone.
    if (names.length !== 1 || all) {
      throw new WeirError(
        "USAGE",
        "With an ENTRYPOINT argument, give exactly one --name for the deployment (and no --all)",
      );
    }
    proj = syntheticProject(entrypoint, names[0]!);
    names = [];
    all = true;
  } else {
    const { loadConfig } = await import("../../core/config/index.ts");
    proj = project.loadProject(project.findProjectFile(process.cwd(), f.file), {
      limits: loadConfig().limits,
      registry: reg,
    });
  }
  const planned = await project.planDeployments(proj, names, all, overlay);
  const perDeployment =
    f.description || f.version || f.param || f.params || f.jobVariable || overlay.schedule;
  if (planned.length > 1 && perDeployment) {
    throw new WeirError(
      "USAGE",
      `${planned.length} deployments are selected: --description, --version, --param(s), --job-variable and schedule flags apply to one deployment; pick it with --name, or set these in ${proj.displayFile}`,
    );
  }
  for (const w of proj.warnings) console.error(`${yellow("warning:")} ${w}`);

  if (f.dryRun) {
    const plans = planned.map((p) => {
      const pull = (proj.overrides[p.index]!.pull ? p.spec.pull : proj.pull) ?? [
        { "weir.steps.set_working_directory": { directory: proj.dir } },
      ];
      // What deploy would send, with $ENV applied; step outputs, blocks and variables stay as
      // placeholders (no step runs, no server is asked), and pull steps are shown as stored.
      const { pull_steps, ...fields } = project.deploymentBody(proj, p, overlay, pull);
      // What the build and push steps would do, where a step can tell without running.
      const ov = proj.overrides[p.index]!;
      const steps = [
        ...((ov.build ? p.spec.build : proj.build) ?? []).map((s) => ["build", s] as const),
        ...((ov.push ? p.spec.push : proj.push) ?? []).map((s) => ["push", s] as const),
      ];
      const would = steps.flatMap(([section, step]) => {
        const [name, args] = Object.entries(step as Record<string, unknown>)[0] ?? [];
        const def = name ? reg.step(name) : undefined;
        if (!def?.describe) return [];
        try {
          return [
            `${section} step ${name}: ${def.describe((args ?? {}) as Record<string, unknown>, proj.dir)}`,
          ];
        } catch (err) {
          return [`${section} step ${name}: cannot tell (${(err as Error).message})`];
        }
      });
      return {
        name: `${p.flowName ?? p.spec.flow_name ?? "?"}/${p.name}`,
        ok: p.problems.length === 0,
        would,
        deployment: {
          ...(applyValues(fields, {}, { removeNotSet: false }) as Record<string, unknown>),
          pull_steps,
        },
        problems: p.problems,
      };
    });
    if (f.json) console.log(JSON.stringify(plans, null, 2));
    else {
      console.log(
        dim(
          "Dry run: no step runs and no server is asked, so blocks, variables and credentials are not checked.\n",
        ),
      );
      for (const plan of plans) {
        console.log(
          `${bold(plan.name)} (dry run, nothing changed${plan.ok ? "" : "; it would not deploy"})\n${indent(JSON.stringify(plan.deployment, null, 2))}`,
        );
        for (const w of plan.would) console.log(`  ${w}`);
        for (const problem of plan.problems) console.log(`${red("✗")} ${problem}`);
      }
    }
    if (plans.some((p) => !p.ok)) process.exitCode = 1;
    return;
  }

  const client = new WeirClient();
  // A token that may not deploy would fail only after the build and push steps ran (images
  // pushed, code uploaded): said before any of them.
  const me = await client.whoami();
  if (me && me.scope !== "admin" && me.scope !== "deploy")
    throw new WeirError(
      "FORBIDDEN",
      `The API token in WEIR_API_KEY ("${me.name}", scope ${me.scope}) may not deploy: weir deploy needs a deploy or admin token (weir token create NAME --scope deploy); no step was run`,
    );
  const signal = new AbortController().signal;
  const outcomes = [];
  for (const p of planned)
    outcomes.push(
      await project.deployOne(client, proj, p, overlay, {
        signal,
        registry: reg,
        env: process.env,
        progress:
          process.stdout.isTTY && !process.env.NO_COLOR ? terminalProgress(process.stdout) : undefined,
      }),
    );
  if (f.json) {
    console.log(JSON.stringify(outcomes, null, 2));
  } else {
    for (const o of outcomes) {
      if (o.ok) {
        const d = o.deployment!;
        console.log(`${green("✓")} ${bold(o.name)} ${o.created ? "created" : "updated"} (id ${d.id})`);
        for (const n of o.notes) console.log(dim(`  note: ${n}`));
      } else {
        console.log(`${red("✗")} ${bold(o.name)} not deployed:\n${indent(o.error ?? "")}`);
      }
    }
    const good = outcomes.filter((o) => o.ok);
    if (good.length > 0) {
      const first = good[0]!.deployment!;
      const pools = [...new Set(good.map((o) => o.deployment!.work_pool_name).filter(Boolean))];
      console.log("\nNext:");
      // Suggest an agent only for a pool no agent is polling now (npm start's server runs one).
      const cutoff = Date.now() - 60_000;
      const idle = [];
      for (const pool of pools) {
        const agents = await client.listAgents(pool as string).catch(() => []);
        if (!agents.some((a) => Date.parse(a.last_heartbeat) > cutoff)) idle.push(pool);
      }
      if (idle.length) console.log(`  start an agent:      weir agent --pool ${idle[0]}`);
      else if (!pools.length)
        console.log(
          "  these deployments have no work pool: set work_pool.name in the file or pass --pool, then run an agent for it",
        );
      console.log(`  run the deployment:  weir deployment run '${first.flow_name}/${first.name}' --watch`);
    }
    console.log(`\n${good.length} deployed, ${outcomes.length - good.length} failed`);
  }
  if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

function syntheticProject(entrypoint: string, name: string) {
  const dir = process.cwd();
  // No file: messages are said without a place (see formatAt).
  const commandLine = { file: "(command line)", line: 0, col: 0 };
  return {
    file: "(command line)",
    displayFile: "the command line",
    dir,
    name: null,
    build: null,
    push: null,
    pull: null,
    overrides: [{ build: false, push: false, pull: false }],
    deployments: [
      {
        name,
        entrypoint,
        pos: commandLine,
        entrypointPos: commandLine,
        parametersPos: () => commandLine,
        jobVariablesPos: () => commandLine,
        fieldPos: () => commandLine,
        unsupported: [],
        replaced: false,
      },
    ],
    warnings: [],
    source: "",
  };
}
