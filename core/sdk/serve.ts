import { hostname } from "node:os";
import { WeirClient } from "../client/index.ts";
import { describeError, WeirError } from "../model/index.ts";
import { type DeployOptions, deploy } from "./deploy.ts";
import type { Flow } from "./flow.ts";
import { flowLoading, sdkHost } from "./host.ts";
import { consoleLogger } from "./logger.ts";

export interface ServeOptions {
  /** The work pool the served deployments go in, created when missing (default "serve"). */
  workPool?: string;
  /** Most runs at once (default 10). */
  limit?: number;
  /**
   * What SIGINT/SIGTERM does to runs in flight: "finish" lets them end (default), "cancel" ends
   * them CANCELLED. A second signal cancels them either way.
   */
  onStop?: "finish" | "cancel";
  /**
   * Pause the served deployments' schedules when this process stops, so no runs pile up for a
   * process that is gone, and resume them when it starts (default true, as Prefect's serve).
   */
  pauseOnShutdown?: boolean;
}

/**
 * One long-running process that deploys its deployments and runs their scheduled and requested
 * runs itself, with no agent (Prefect's `serve`): each deployment gets a queue of its own in the
 * pool, which this process polls, and its runs execute here with the flows already loaded. It
 * stops on SIGINT/SIGTERM and resolves once the runs in flight have ended.
 *
 *   await serve({ flow: etl, name: "hourly", schedules: [{ interval: 3600 }] }, { limit: 4 })
 */
export async function serve(...items: (DeployOptions | ServeOptions)[]): Promise<void> {
  if (flowLoading.depth > 0) return;
  const deployments = items.filter((i): i is DeployOptions => !!i && typeof i === "object" && "flow" in i);
  const opts: ServeOptions = Object.assign(
    {},
    ...items.filter((i) => !!i && typeof i === "object" && !("flow" in i)),
  ) as ServeOptions;
  for (const key of Object.keys(opts))
    if (!["workPool", "limit", "onStop", "pauseOnShutdown"].includes(key))
      throw new WeirError(
        "INVALID",
        `serve(): unknown option "${key}" (serve's options are workPool, limit, onStop, pauseOnShutdown)`,
      );
  if (deployments.length === 0)
    throw new WeirError("INVALID", 'serve(): give at least one deployment: serve({ flow, name: "..." })');
  const limit = opts.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1)
    throw new WeirError(
      "INVALID",
      `serve(): limit must be a whole number from 1 up (got ${JSON.stringify(opts.limit)})`,
    );
  if (opts.onStop !== undefined && opts.onStop !== "finish" && opts.onStop !== "cancel")
    throw new WeirError(
      "INVALID",
      `serve(): onStop must be "finish" or "cancel" (got ${JSON.stringify(opts.onStop)})`,
    );
  const pools = new Set(deployments.map((d) => d.workPool ?? opts.workPool ?? "serve"));
  if (pools.size > 1)
    throw new WeirError(
      "INVALID",
      `serve(): one process serves one work pool, and these deployments name ${[...pools].join(", ")} (give them one workPool)`,
    );
  const pool = [...pools][0]!;
  const served = deployments.map((d) => ({
    ...d,
    workPool: pool,
    workQueueName: d.workQueueName ?? `${d.flow.options.name}-${d.name}`,
  }));

  const client = new WeirClient();
  await client.getWorkPool(pool).catch((err: unknown) => {
    if (err instanceof WeirError && err.code === "NOT_FOUND")
      return client.createWorkPool({ name: pool, type: "process" }, true);
    throw err;
  });
  const stored = await deploy(...served);
  const flows = new Map<string, Flow>(stored.map((d, i) => [d.id, served[i]!.flow as Flow]));
  const pauseOnShutdown = opts.pauseOnShutdown ?? true;
  if (pauseOnShutdown)
    for (const d of stored) if (!d.is_schedule_active) await client.setDeploymentScheduleActive(d.id, true);

  const { Agent } = await import("../agent/index.ts");
  const { selfCommand } = await import("../infra/index.ts");
  const agent = new Agent({
    client,
    pool,
    queues: [...new Set(served.map((d) => d.workQueueName))],
    limit,
    name: `serve-${hostname()}-${process.pid}`,
    command: selfCommand(),
    registry: await sdkHost("serve()").registry(),
    isolation: "none",
    prewarm: 0,
    flows: (run) => (run.deployment_id ? flows.get(run.deployment_id) : undefined),
    log: (m) => console.log(`${new Date().toISOString()} ${m}`),
  });
  await agent.start();
  const names = stored.map((d) => `${d.flow_name}/${d.name}`);
  consoleLogger.info(
    `Serving ${names.join(", ")} from this process (pool "${pool}"). Start a run with: weir deployment run '${names[0]}'. Stop with Ctrl-C.`,
  );
  await new Promise<void>((resolve, reject) => {
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals > 1 || opts.onStop === "cancel") agent.cancelAll();
      if (signals > 1) return;
      consoleLogger.info(
        `Stopping: no new runs are taken; ${agent.runningCount} run(s) in flight ${opts.onStop === "cancel" ? "are cancelled" : "may finish (Ctrl-C again cancels them)"}`,
      );
      agent
        .stop()
        .then(async () => {
          if (pauseOnShutdown)
            for (const d of stored) await client.setDeploymentScheduleActive(d.id, false).catch(() => {});
        })
        .then(() => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve();
        }, reject);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }).catch((err) => {
    throw new WeirError("INVALID", `serve(): stopping failed: ${describeError(err)}`);
  });
}
