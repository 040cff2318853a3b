import { and, asc, desc, eq, gt, inArray, isNull, lte, ne, or, sql } from "drizzle-orm";
import type { FlowRun, State } from "../model/index.ts";
import {
  assertTransition,
  DEFAULT_STATE_NAMES,
  isTerminal,
  randomRunName,
  type StateProposal,
  type StateType,
  WeirError,
} from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toFlowRun, toState } from "./rows.ts";
import { deployments, flowRunStates, flowRuns, flows } from "./schema.ts";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface FlowRunInput {
  flow_id: string;
  /** Known names let the new run be returned without reading it back. */
  names?: { flow: string; deployment: string | null };
  deployment_id?: string | null;
  name?: string;
  work_pool_name?: string | null;
  work_queue_name?: string | null;
  parameters?: Record<string, unknown>;
  job_variables?: Record<string, unknown>;
  tags?: string[];
  state?: StateProposal;
}

const runWithNames = (db: Db | Tx) =>
  db
    .select({ r: flowRuns, flowName: flows.name, deploymentName: deployments.name })
    .from(flowRuns)
    .innerJoin(flows, eq(flows.id, flowRuns.flowId))
    .leftJoin(deployments, eq(deployments.id, flowRuns.deploymentId));

export async function createFlowRun(db: Db, input: FlowRunInput): Promise<FlowRun> {
  const [run] = await createFlowRuns(db, [input]);
  return run!;
}

/** Creates several runs (with their first state) in one transaction, two statements in all. */
export async function createFlowRuns(db: Db, inputs: FlowRunInput[]): Promise<FlowRun[]> {
  const now = nowIso();
  const rows = inputs.map((input) => {
    const state = input.state ?? { type: "SCHEDULED" as const };
    assertTransition("a new flow run", null, state.type);
    const scheduled = state.type === "SCHEDULED" ? (state.scheduledTime ?? now) : null;
    const run = {
      id: newId(),
      created: now,
      updated: now,
      name: input.name ?? randomRunName(),
      flowId: input.flow_id,
      deploymentId: input.deployment_id ?? null,
      workPoolName: input.work_pool_name ?? null,
      workQueueName: input.work_queue_name ?? null,
      parameters: input.parameters ?? {},
      jobVariables: input.job_variables ?? {},
      tags: input.tags ?? [],
      stateType: state.type,
      stateName: state.name ?? DEFAULT_STATE_NAMES[state.type],
      stateMessage: state.message ?? null,
      stateTimestamp: now,
      expectedStartTime: scheduled ?? now,
      nextScheduledStartTime: scheduled,
      startTime: state.type === "RUNNING" ? now : null,
      endTime: null,
      totalRunTime: 0,
      runCount: state.type === "RUNNING" ? 1 : 0,
      agentId: null,
      infrastructurePid: null,
      autoScheduled: false,
      scheduleId: null,
      idempotencyKey: null,
    } satisfies typeof flowRuns.$inferSelect;
    return { run, state, input };
  });
  await db.batch([
    db.insert(flowRuns).values(rows.map((r) => r.run)),
    db.insert(flowRunStates).values(
      rows.map(({ run, state }) => ({
        id: newId(),
        flowRunId: run.id,
        type: state.type,
        name: run.stateName,
        message: state.message ?? null,
        timestamp: now,
        data: state.data ?? null,
      })),
    ),
  ]);
  return Promise.all(
    rows.map(({ run, input }) =>
      input.names ? toFlowRun(run, input.names.flow, input.names.deployment) : getFlowRun(db, run.id),
    ),
  );
}

export async function getFlowRun(db: Db | Tx, id: string): Promise<FlowRun> {
  const [row] = await runWithNames(db).where(eq(flowRuns.id, id));
  if (!row)
    throw new WeirError("NOT_FOUND", `Flow run "${id}" does not exist (list runs with: weir flow-run ls)`);
  return toFlowRun(row.r, row.flowName, row.deploymentName);
}

export interface FlowRunFilter extends Page {
  deploymentId?: string;
  flowName?: string;
  stateTypes?: StateType[];
  workPoolName?: string;
}

export async function listFlowRuns(db: Db, f: FlowRunFilter = {}): Promise<FlowRun[]> {
  const where = and(
    f.deploymentId ? eq(flowRuns.deploymentId, f.deploymentId) : undefined,
    f.flowName ? eq(flows.name, f.flowName) : undefined,
    f.stateTypes?.length ? inArray(flowRuns.stateType, f.stateTypes) : undefined,
    f.workPoolName ? eq(flowRuns.workPoolName, f.workPoolName) : undefined,
  );
  const rows = await runWithNames(db)
    .where(where)
    .orderBy(desc(flowRuns.created), desc(flowRuns.id))
    .limit(f.limit ?? 50)
    .offset(f.offset ?? 0);
  return rows.map((r) => toFlowRun(r.r, r.flowName, r.deploymentName));
}

export async function listFlowRunStates(db: Db, id: string, page: Page = {}): Promise<State[]> {
  await getFlowRun(db, id);
  const rows = await db
    .select()
    .from(flowRunStates)
    .where(eq(flowRunStates.flowRunId, id))
    .orderBy(asc(flowRunStates.timestamp), asc(flowRunStates.id))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
  return rows.map(toState);
}

/**
 * The one way a flow run changes state. Clients propose; this decides: it refuses illegal
 * transitions (a finished run never changes again), keeps start/end/run-count bookkeeping, and
 * appends to the run's history in the same transaction.
 */
export async function setFlowRunState(
  db: Db,
  id: string,
  proposal: StateProposal,
  extra: { infrastructurePid?: string } = {},
): Promise<FlowRun> {
  return db.transaction(async (tx) => {
    const run = await getFlowRun(tx, id);
    assertTransition(`flow run "${run.name}" (${id})`, run.state.type, proposal.type);
    const now = nowIso();
    const name = proposal.name ?? DEFAULT_STATE_NAMES[proposal.type];
    const patch: Partial<typeof flowRuns.$inferInsert> = {
      updated: now,
      stateType: proposal.type,
      stateName: name,
      stateMessage: proposal.message ?? null,
      stateTimestamp: now,
    };
    if (proposal.type === "RUNNING") {
      patch.runCount = run.run_count + 1;
      if (!run.start_time) patch.startTime = now;
    }
    if (proposal.type === "SCHEDULED") patch.nextScheduledStartTime = proposal.scheduledTime ?? now;
    if (["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(proposal.type)) {
      patch.endTime = now;
      if (run.start_time) patch.totalRunTime = Date.parse(now) - Date.parse(run.start_time);
    }
    if (extra.infrastructurePid !== undefined) patch.infrastructurePid = extra.infrastructurePid;
    await tx.update(flowRuns).set(patch).where(eq(flowRuns.id, id));
    await tx.insert(flowRunStates).values({
      id: newId(),
      flowRunId: id,
      type: proposal.type,
      name,
      message: proposal.message ?? null,
      timestamp: now,
      data: proposal.data ?? null,
    });
    return getFlowRun(tx, id);
  });
}

/**
 * Log lines and task runs are taken only for flow runs that exist and have not finished: a run
 * that ended (a process orphaned by its agent, a body still going after its timeout) adds nothing
 * to its history afterwards.
 */
export async function assertRunsOpen(db: Db | Tx, ids: readonly string[], what: string): Promise<void> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return;
  const rows = await db
    .select({
      id: flowRuns.id,
      name: flowRuns.name,
      stateType: flowRuns.stateType,
      stateName: flowRuns.stateName,
    })
    .from(flowRuns)
    .where(inArray(flowRuns.id, wanted));
  const missing = wanted.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length > 0)
    throw new WeirError("NOT_FOUND", `Cannot add ${what}: flow run "${missing[0]}" does not exist`);
  const done = rows.find((r) => isTerminal(r.stateType as StateType));
  if (done)
    throw new WeirError(
      "CONFLICT",
      `Cannot add ${what} to flow run "${done.name}" (${done.id}): it is already ${done.stateName}, and a finished run takes no more`,
      { fields: { state: done.stateType } },
    );
}

export async function setInfrastructurePid(db: Db, id: string, pid: string): Promise<void> {
  await db.update(flowRuns).set({ infrastructurePid: pid }).where(eq(flowRuns.id, id));
}

export interface ClaimRequest {
  workPoolName: string;
  /** Only these queues; all of the pool's unpaused queues when empty. */
  queues: string[];
  agentId: string;
  limit: number;
}

/**
 * Atomically moves up to `limit` due SCHEDULED runs of a pool to PENDING for one agent. The
 * UPDATE re-checks the state inside the write transaction, so two agents never get one run.
 * AwaitingRetry runs belong to the engine already running them and are never claimed.
 */
export async function claimFlowRuns(db: Db, req: ClaimRequest): Promise<FlowRun[]> {
  const now = nowIso();
  return db.transaction(async (tx) => {
    const due = tx
      .select({ id: flowRuns.id })
      .from(flowRuns)
      .where(
        and(
          eq(flowRuns.workPoolName, req.workPoolName),
          eq(flowRuns.stateType, "SCHEDULED"),
          ne(flowRuns.stateName, "AwaitingRetry"),
          or(isNull(flowRuns.nextScheduledStartTime), lte(flowRuns.nextScheduledStartTime, now)),
          req.queues.length ? inArray(flowRuns.workQueueName, req.queues) : undefined,
        ),
      )
      .orderBy(asc(flowRuns.nextScheduledStartTime))
      .limit(req.limit);
    const claimed = await tx
      .update(flowRuns)
      .set({
        stateType: "PENDING",
        stateName: "Pending",
        stateMessage: null,
        stateTimestamp: now,
        updated: now,
        agentId: req.agentId,
      })
      .where(and(inArray(flowRuns.id, due), eq(flowRuns.stateType, "SCHEDULED")))
      .returning({ id: flowRuns.id });
    if (claimed.length === 0) return [];
    await tx.insert(flowRunStates).values(
      claimed.map((c) => ({
        id: newId(),
        flowRunId: c.id,
        type: "PENDING",
        name: "Pending",
        message: null,
        timestamp: now,
        data: { agent_id: req.agentId },
      })),
    );
    const rows = await runWithNames(tx).where(
      inArray(
        flowRuns.id,
        claimed.map((c) => c.id),
      ),
    );
    return rows.map((r) => toFlowRun(r.r, r.flowName, r.deploymentName));
  });
}

/** The earliest future start among a pool's SCHEDULED runs, so a waiting claim can wake for it. */
export async function nextScheduledStart(db: Db, workPoolName: string): Promise<string | null> {
  const [row] = await db
    .select({ t: sql<string | null>`min(${flowRuns.nextScheduledStartTime})` })
    .from(flowRuns)
    // Only future times: a due run this agent cannot take (another queue, awaiting retry) must not
    // turn the wait into a busy loop.
    .where(
      and(
        eq(flowRuns.workPoolName, workPoolName),
        eq(flowRuns.stateType, "SCHEDULED"),
        gt(flowRuns.nextScheduledStartTime, nowIso()),
      ),
    );
  return row?.t ?? null;
}

/** Runs an agent started that are now CANCELLING, so it can stop their processes. */
export async function listCancellingRuns(db: Db, agentId: string): Promise<string[]> {
  const rows = await db
    .select({ id: flowRuns.id })
    .from(flowRuns)
    .where(and(eq(flowRuns.agentId, agentId), eq(flowRuns.stateType, "CANCELLING")));
  return rows.map((r) => r.id);
}

/**
 * Runs whose agent stopped heartbeating before `cutoff`: not-yet-started ones go back to
 * SCHEDULED for another agent, started ones end CRASHED (their process cannot be watched any more).
 * Returns how many of each. Each change goes through setFlowRunState, so history stays complete.
 */
export async function sweepOrphanedRuns(
  db: Db,
  cutoff: string,
): Promise<{ rescheduled: number; crashed: number }> {
  const rows = await db.all<{ id: string; state_type: string; agent_name: string }>(sql`
    SELECT r.id AS id, r.state_type AS state_type, a.name AS agent_name
    FROM flow_runs r JOIN agents a ON a.id = r.agent_id
    WHERE r.state_type IN ('PENDING', 'RUNNING', 'CANCELLING') AND a.last_heartbeat < ${cutoff}`);
  let rescheduled = 0;
  let crashed = 0;
  for (const row of rows) {
    const why = `agent "${row.agent_name}" stopped sending heartbeats`;
    try {
      if (row.state_type === "PENDING") {
        await setFlowRunState(db, row.id, {
          type: "SCHEDULED",
          name: "Rescheduled",
          message: `${why} before the run started`,
        });
        await db.update(flowRuns).set({ agentId: null }).where(eq(flowRuns.id, row.id));
        rescheduled++;
      } else {
        await setFlowRunState(db, row.id, {
          type: "CRASHED",
          message: `${why} while the run was in progress`,
        });
        crashed++;
      }
    } catch (err) {
      // Someone else changed the run meanwhile (it finished, or another sweeper got it): fine.
      if (!(err instanceof WeirError && err.code === "CONFLICT")) throw err;
    }
  }
  return { rescheduled, crashed };
}
