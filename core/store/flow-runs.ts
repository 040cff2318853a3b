import { and, asc, desc, eq, gte, inArray, isNotNull, lt, notInArray, or, sql } from "drizzle-orm";
import type { FlowRun, State, TaskRunSnapshot } from "../model/index.ts";
import {
  assertTransition,
  DEFAULT_STATE_NAMES,
  isTerminal,
  randomRunName,
  type StateProposal,
  type StateType,
  WeirError,
} from "../model/index.ts";
import {
  type Conn,
  insertRows,
  inTx,
  mapRow,
  placeholders,
  plainRows,
  rawRows,
  updateById,
  upsertRows,
} from "./conn.ts";
import { recordStates } from "./history.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toFlowRun, toState } from "./rows.ts";
import type * as schema from "./schema.ts";
import { writeTaskRunRows } from "./task-run-rows.ts";
import { revokeRunTokens } from "./tokens.ts";

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
  /** Unique among all runs: a second run with it is refused by the database. */
  idempotency_key?: string;
  /** A subflow run: the run that called it and the task run standing for it there. */
  parent_flow_run_id?: string | null;
  parent_task_run_id?: string | null;
  /** A subflow run inside its parent's process is held under the parent's claim. */
  agent_id?: string | null;
}

const runWithNames = (c: Conn) =>
  c.db
    .select({ r: c.t.flowRuns, flowName: c.t.flows.name, deploymentName: c.t.deployments.name })
    .from(c.t.flowRuns)
    .innerJoin(c.t.flows, eq(c.t.flows.id, c.t.flowRuns.flowId))
    .leftJoin(c.t.deployments, eq(c.t.deployments.id, c.t.flowRuns.deploymentId));

type RunRow = typeof schema.flowRuns.$inferSelect;

/**
 * One run with its flow's and deployment's names, by id, in plain SQL. The query builder spends
 * about 170 µs building and mapping this statement, the database 10-40 µs running it, and it is
 * the most frequent read of all (every state change, every wait): written out, it costs a quarter.
 */
async function runRowById(
  c: Conn,
  id: string,
): Promise<{ r: RunRow; flowName: string; deploymentName: string | null } | undefined> {
  return (await runRowsWhere(c, "r.id = ?", [id]))[0];
}

/** Runs with their flow's and deployment's names, in plain SQL (see runRowById). */
async function runRowsWhere(
  c: Conn,
  where: string,
  args: readonly unknown[],
): Promise<{ r: RunRow; flowName: string; deploymentName: string | null }[]> {
  const found = await plainRows(
    c,
    `SELECT r.*, f.name AS weir_flow_name, d.name AS weir_deployment_name FROM flow_runs r
      JOIN flows f ON f.id = r.flow_id LEFT JOIN deployments d ON d.id = r.deployment_id
      WHERE ${where}`,
    args,
  );
  return found.map((raw) => ({
    r: mapRow(c.t.flowRuns, raw),
    flowName: String(raw.weir_flow_name),
    deploymentName: raw.weir_deployment_name == null ? null : String(raw.weir_deployment_name),
  }));
}

/** An ISO time in UTC with a Z (what every stored time is), or undefined. */
function isoUtc(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? t : new Date(ms).toISOString();
}

export async function createFlowRun(c: Conn, input: FlowRunInput): Promise<FlowRun> {
  const [run] = await createFlowRuns(c, [input]);
  return run!;
}

/** Creates several runs (with their first state) in one transaction, two statements in all. */
export async function createFlowRuns(c: Conn, inputs: FlowRunInput[]): Promise<FlowRun[]> {
  const now = nowIso();
  const rows = inputs.map((input) => {
    const state = input.state ?? { type: "SCHEDULED" as const };
    assertTransition("a new flow run", null, state.type);
    // Times are compared as text: always UTC with a Z, whatever offset the caller wrote.
    const scheduled = state.type === "SCHEDULED" ? (isoUtc(state.scheduledTime) ?? now) : null;
    const run = {
      id: newId(),
      created: now,
      updated: now,
      name: input.name ?? randomRunName(),
      flowId: input.flow_id,
      deploymentId: input.deployment_id ?? null,
      workPoolName: input.work_pool_name ?? null,
      // A run of a pool without a queue named goes to the pool's default queue.
      workQueueName: input.work_queue_name ?? (input.work_pool_name ? "default" : null),
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
      agentId: input.agent_id ?? null,
      infrastructurePid: null,
      autoScheduled: false,
      scheduleId: null,
      idempotencyKey: input.idempotency_key ?? null,
      parentFlowRunId: input.parent_flow_run_id ?? null,
      parentTaskRunId: input.parent_task_run_id ?? null,
    } satisfies typeof schema.flowRuns.$inferSelect;
    return { run, state, input };
  });
  await inTx(c, async (tc) => {
    // A subflow run only below a run that has not ended, decided with the parent's row locked
    // (its final state takes the same lock): none is made after its parent ended unseen.
    for (const parentId of new Set(rows.map((r) => r.run.parentFlowRunId).filter((p): p is string => !!p))) {
      if (c.dialect === "postgres")
        await rawRows(tc, sql`SELECT id FROM flow_runs WHERE id = ${parentId} FOR UPDATE`);
      const parent = await getFlowRun(tc, parentId);
      if (isTerminal(parent.state.type))
        throw new WeirError(
          "CONFLICT",
          `parent_flow_run_id: flow run ${parent.name} (${parent.id}) has ended (${parent.state.name}); a finished run starts no subflows`,
        );
    }
    await insertRows(
      tc,
      c.t.flowRuns,
      rows.map((r) => r.run),
    );
    await recordStates(
      tc,
      rows.map(({ run, state }) => ({
        flowRunId: run.id,
        type: state.type,
        name: run.stateName,
        message: state.message ?? null,
        data: state.data ?? null,
      })),
      now,
    );
  });
  return Promise.all(
    rows.map(({ run, input }) =>
      input.names ? toFlowRun(run, input.names.flow, input.names.deployment) : getFlowRun(c, run.id),
    ),
  );
}

export async function getFlowRun(c: Conn, id: string): Promise<FlowRun> {
  const row = await runRowById(c, id);
  if (!row)
    throw new WeirError("NOT_FOUND", `Flow run "${id}" does not exist (list runs with: weir flow-run ls)`);
  return toFlowRun(row.r, row.flowName, row.deploymentName);
}

export interface FlowRunFilter extends Page {
  deploymentId?: string;
  flowName?: string;
  stateTypes?: StateType[];
  /** With stateTypes: runs of those types or carrying one of these state names (Late, Retrying...). */
  stateNames?: string[];
  workPoolName?: string;
  /** Only the subflow runs of this run. */
  parentFlowRunId?: string;
  /** Only runs carrying this tag. */
  tag?: string;
  /** Only runs of this name (names are not unique). */
  name?: string;
  /** Only runs created at or after / before these times (ISO 8601, UTC). */
  createdAfter?: string;
  createdBefore?: string;
}

export async function listFlowRuns(c: Conn, f: FlowRunFilter = {}): Promise<FlowRun[]> {
  const where = and(
    f.deploymentId ? eq(c.t.flowRuns.deploymentId, f.deploymentId) : undefined,
    f.name ? eq(c.t.flowRuns.name, f.name) : undefined,
    f.flowName ? eq(c.t.flows.name, f.flowName) : undefined,
    f.stateTypes?.length || f.stateNames?.length
      ? or(
          f.stateTypes?.length ? inArray(c.t.flowRuns.stateType, f.stateTypes) : undefined,
          f.stateNames?.length ? inArray(c.t.flowRuns.stateName, f.stateNames) : undefined,
        )
      : undefined,
    f.workPoolName ? eq(c.t.flowRuns.workPoolName, f.workPoolName) : undefined,
    f.parentFlowRunId ? eq(c.t.flowRuns.parentFlowRunId, f.parentFlowRunId) : undefined,
    f.tag
      ? c.dialect === "postgres"
        ? sql`${c.t.flowRuns.tags} @> ${JSON.stringify([f.tag])}::text::jsonb`
        : // A plain text match first (fast), then the exact element (a tag inside another tag's text).
          sql`${c.t.flowRuns.tags} like ${`%${JSON.stringify(f.tag).replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`} escape '\\' and exists (select 1 from json_each(${c.t.flowRuns.tags}) where value = ${f.tag})`
      : undefined,
    f.createdAfter ? gte(c.t.flowRuns.created, f.createdAfter) : undefined,
    f.createdBefore ? lt(c.t.flowRuns.created, f.createdBefore) : undefined,
  );
  const rows = await runWithNames(c)
    .where(where)
    .orderBy(desc(c.t.flowRuns.created), desc(c.t.flowRuns.id))
    .limit(f.limit ?? 50)
    .offset(f.offset ?? 0);
  return rows.map((r) => toFlowRun(r.r, r.flowName, r.deploymentName));
}

export async function listFlowRunStates(c: Conn, id: string, page: Page = {}): Promise<State[]> {
  await getFlowRun(c, id);
  const rows = await c.db
    .select()
    .from(c.t.flowRunStates)
    .where(eq(c.t.flowRunStates.flowRunId, id))
    .orderBy(asc(c.t.flowRunStates.timestamp), asc(c.t.flowRunStates.id))
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
  c: Conn,
  id: string,
  proposal: StateProposal,
  extra: {
    infrastructurePid?: string;
    agentId?: string;
    /** The flow's return value as JSON text, kept with a COMPLETED state. */
    result?: string;
    /** The run's own task runs, written once the proposal passed every check, in its transaction. */
    taskRuns?: TaskRunSnapshot[];
  } = {},
): Promise<FlowRun> {
  return inTx(c, async (tc) => {
    // PostgreSQL runs transactions side by side: the row is locked before it is read, so two
    // proposals for one run are decided one after the other (SQLite writes one at a time anyway).
    if (c.dialect === "postgres")
      await rawRows(tc, sql`SELECT id FROM flow_runs WHERE id = ${id} FOR UPDATE`);
    const row = await runRowById(tc, id);
    if (!row)
      throw new WeirError("NOT_FOUND", `Flow run "${id}" does not exist (list runs with: weir flow-run ls)`);
    const run = toFlowRun(row.r, row.flowName, row.deploymentName);
    // A claim is a lease: a process running under another agent's claim (one that expired, after
    // which the run was retried and claimed again) reports nothing more.
    if (extra.agentId && run.agent_id !== extra.agentId)
      throw new WeirError(
        "CONFLICT",
        `flow run "${run.name}" (${id}) is no longer held by agent ${extra.agentId} (its claim expired; ${run.agent_id ? `agent ${run.agent_id} holds it now` : "it waits to be claimed again"}): this report is refused`,
      );
    assertTransition(`flow run "${run.name}" (${id})`, run.state.type, proposal.type);
    // Prefect's rule: a run in progress goes back to SCHEDULED only to await its own retry.
    if (run.state.type === "RUNNING" && proposal.type === "SCHEDULED" && proposal.name !== "AwaitingRetry")
      throw new WeirError(
        "CONFLICT",
        `Cannot set flow run "${run.name}" (${id}) to SCHEDULED: a running run goes back to SCHEDULED only as AwaitingRetry (cancel it, or retry it once it has finished)`,
        { fields: { from: "RUNNING", to: "SCHEDULED" } },
      );
    if (extra.taskRuns?.length) await writeTaskRunRows(tc, extra.taskRuns);
    const now = nowIso();
    const name = proposal.name ?? DEFAULT_STATE_NAMES[proposal.type];
    const patch: Partial<typeof schema.flowRuns.$inferInsert> = {
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
    if (proposal.type === "SCHEDULED") patch.nextScheduledStartTime = isoUtc(proposal.scheduledTime) ?? now;
    if (["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(proposal.type)) patch.endTime = now;
    // Prefect's IncrementRunTime: the time spent RUNNING, summed over every attempt (not the
    // waits between retries, nor the time a cancellation took), added on every way out of it.
    if (run.state.type === "RUNNING")
      patch.totalRunTime =
        run.total_run_time + Math.max(0, Date.parse(now) - Date.parse(run.state.timestamp));
    if (extra.infrastructurePid !== undefined) patch.infrastructurePid = extra.infrastructurePid;
    await updateById(tc, c.t.flowRuns, id, patch);
    if (extra.result !== undefined && proposal.type === "COMPLETED")
      await saveFlowRunResult(tc, id, extra.result);
    if (isTerminal(proposal.type)) {
      await closeOpenTaskRuns(tc, id, proposal.type, name, now);
      // The run's own token ends with it, however it ended (its agent's report, a sweep of a dead
      // agent's runs, a cancel): a process still alive reads no more secrets with it.
      await revokeRunTokens(tc, id);
    }
    await recordStates(
      tc,
      [{ flowRunId: id, type: proposal.type, name, message: proposal.message ?? null, data: proposal.data }],
      now,
    );
    // The row as written (names unchanged), not read back.
    return toFlowRun({ ...row.r, ...patch } as typeof row.r, row.flowName, row.deploymentName);
  });
}

/**
 * Task runs its flow run left unfinished when it ended (cancelled or timed out mid-task, its
 * process killed, a task not awaited): they end with it, saying so, instead of showing Running
 * for ever. A cancelled run's tasks are cancelled; any other end leaves them crashed.
 */
async function closeOpenTaskRuns(
  tc: Conn,
  flowRunId: string,
  flowState: StateType,
  flowStateName: string,
  now: string,
): Promise<void> {
  const open = await tc.db
    .select()
    .from(tc.t.taskRuns)
    .where(
      and(
        eq(tc.t.taskRuns.flowRunId, flowRunId),
        notInArray(tc.t.taskRuns.stateType, ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]),
      ),
    );
  for (const t of open) {
    const type = flowState === "CANCELLED" ? "CANCELLED" : "CRASHED";
    const name = DEFAULT_STATE_NAMES[type];
    const message = `its flow run ended ${flowStateName} before it finished`;
    await updateById(tc, tc.t.taskRuns, t.id, {
      updated: now,
      stateType: type,
      stateName: name,
      stateMessage: message,
      stateTimestamp: now,
      endTime: now,
      history: [...t.history, { type, name, timestamp: now, message }],
    });
  }
}

/** Puts a run back to SCHEDULED for now, with no agent and `patch` besides, and records it so. */
async function scheduleAgain(
  tc: Conn,
  id: string,
  message: string,
  patch: Partial<typeof schema.flowRuns.$inferInsert>,
): Promise<void> {
  const now = nowIso();
  await updateById(tc, tc.t.flowRuns, id, {
    updated: now,
    stateType: "SCHEDULED",
    stateName: "Scheduled",
    stateMessage: message,
    stateTimestamp: now,
    nextScheduledStartTime: now,
    agentId: null,
    ...patch,
  });
  await recordStates(tc, [{ flowRunId: id, type: "SCHEDULED", name: "Scheduled", message }], now);
}

/**
 * The explicit way out of a final state: the run is SCHEDULED again for now, with no agent, and
 * its next RUNNING counts one more attempt. Only a finished run can be retried.
 */
export async function retryFlowRun(c: Conn, id: string): Promise<FlowRun> {
  return inTx(c, async (tc) => {
    if (c.dialect === "postgres")
      await rawRows(tc, sql`SELECT id FROM flow_runs WHERE id = ${id} FOR UPDATE`);
    const run = await getFlowRun(tc, id);
    if (!isTerminal(run.state.type))
      throw new WeirError(
        "CONFLICT",
        `Flow run "${run.name}" (${id}) is ${run.state.name}, not finished: only a finished run can be retried (cancel it first with: weir flow-run cancel ${id})`,
      );
    await scheduleAgain(tc, id, `Retried by request (it was ${run.state.name})`, {
      endTime: null,
      infrastructurePid: null,
    });
    // The new attempt's result replaces the old one; until then there is none.
    await tc.db.delete(c.t.flowRunResults).where(eq(c.t.flowRunResults.flowRunId, id));
    return getFlowRun(tc, id);
  });
}

/**
 * Log lines and task runs are taken only for flow runs that exist and have not finished: a run
 * that ended (a process orphaned by its agent, a body still going after its timeout) adds nothing
 * to its history afterwards.
 */
export async function assertRunsOpen(
  c: Conn,
  ids: readonly string[],
  what: string,
  /** The agent the writer says it runs under: each run must still be held by its claim. */
  agentId?: string,
): Promise<void> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return;
  const query = c.db
    .select({
      id: c.t.flowRuns.id,
      name: c.t.flowRuns.name,
      stateType: c.t.flowRuns.stateType,
      stateName: c.t.flowRuns.stateName,
      agentId: c.t.flowRuns.agentId,
    })
    .from(c.t.flowRuns)
    .where(inArray(c.t.flowRuns.id, wanted));
  // A claim checked is held until the write that follows it in the transaction is done.
  const rows =
    agentId && c.dialect === "postgres"
      ? await (query as unknown as { for(s: "share"): typeof query }).for("share")
      : await query;
  const missing = wanted.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length > 0)
    throw new WeirError("NOT_FOUND", `Cannot add ${what}: flow run "${missing[0]}" does not exist`);
  const lost = agentId ? rows.find((r) => r.agentId !== agentId) : undefined;
  if (lost)
    throw new WeirError(
      "CONFLICT",
      `Cannot add ${what} to flow run "${lost.name}" (${lost.id}): it is no longer held by agent ${agentId} (its claim expired; ${lost.agentId ? `agent ${lost.agentId} holds it now` : "it waits to be claimed again"})`,
    );
  const done = rows.find((r) => isTerminal(r.stateType as StateType));
  if (done)
    throw new WeirError(
      "CONFLICT",
      `Cannot add ${what} to flow run "${done.name}" (${done.id}): it is already ${done.stateName}, and a finished run takes no more`,
      { fields: { state: done.stateType } },
    );
}

export async function setInfrastructurePid(c: Conn, id: string, pid: string): Promise<void> {
  await c.db.update(c.t.flowRuns).set({ infrastructurePid: pid }).where(eq(c.t.flowRuns.id, id));
}

/**
 * Puts back runs claimed for an agent that hung up before it got the answer (it was stopped):
 * still PENDING for it, they go back to SCHEDULED for any agent. Runs the same claim started
 * (RUNNING, see ClaimRequest.start) go back too, their attempt not counted: none began.
 */
export async function releaseClaims(c: Conn, agentId: string, ids: string[]): Promise<number> {
  let released = 0;
  const message = "Its agent hung up before taking it; back in the queue";
  for (const id of ids) {
    try {
      const run = await getFlowRun(c, id);
      if (run.state.type === "RUNNING" && run.agent_id === agentId) {
        released += await unstart(c, id, agentId, message);
        continue;
      }
      if (run.state.type !== "PENDING" || run.agent_id !== agentId) continue;
      await setFlowRunState(c, id, { type: "SCHEDULED", name: "Scheduled", message }, { agentId });
      // Only if no other claim has taken it meanwhile (it is SCHEDULED from here on): an
      // unconditional write would take the run from its new agent and leave it PENDING for none.
      await c.db
        .update(c.t.flowRuns)
        .set({ agentId: null })
        .where(
          and(
            eq(c.t.flowRuns.id, id),
            eq(c.t.flowRuns.agentId, agentId),
            eq(c.t.flowRuns.stateType, "SCHEDULED"),
          ),
        );
      released++;
    } catch (err) {
      if (!(err instanceof WeirError && err.code === "CONFLICT")) throw err;
    }
  }
  return released;
}

/**
 * A run its claim recorded RUNNING, whose agent never got it, back to SCHEDULED: not a transition
 * a run makes by itself (Prefect's rules refuse RUNNING → SCHEDULED), so written here, with the
 * attempt the claim counted taken back. Returns 1 when put back, 0 when it had moved on.
 */
async function unstart(c: Conn, id: string, agentId: string, message: string): Promise<number> {
  return inTx(c, async (tc) => {
    if (c.dialect === "postgres")
      await rawRows(tc, sql`SELECT id FROM flow_runs WHERE id = ${id} FOR UPDATE`);
    const run = await getFlowRun(tc, id);
    if (run.state.type !== "RUNNING" || run.agent_id !== agentId) return 0;
    const runCount = Math.max(0, run.run_count - 1);
    await scheduleAgain(tc, id, message, { runCount, startTime: runCount === 0 ? null : run.start_time });
    return 1;
  });
}

/** The run made with an idempotency key, if any. */
export async function findFlowRunByIdempotencyKey(c: Conn, key: string): Promise<FlowRun | undefined> {
  const [row] = await runWithNames(c).where(eq(c.t.flowRuns.idempotencyKey, key));
  return row ? toFlowRun(row.r, row.flowName, row.deploymentName) : undefined;
}

/** Runs by id, with their flow's and deployment's names. */
export async function readFlowRuns(c: Conn, ids: string[]): Promise<FlowRun[]> {
  if (ids.length === 0) return [];
  const runs: FlowRun[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const r of await runRowsWhere(c, `r.id IN (${placeholders(chunk.length)})`, chunk))
      runs.push(toFlowRun(r.r, r.flowName, r.deploymentName));
  }
  return runs;
}

/**
 * Runs claimed for an agent (PENDING, or RUNNING for one whose claims start its runs) that it
 * does not list as its own: the answer that carried them never reached it. Handed to it again,
 * they start instead of waiting for the agent timeout. (An agent whose claims start runs holds
 * every run it has in its own process, so a RUNNING run it does not list is one it never got.)
 */
export async function unclaimedByAgent(
  c: Conn,
  agentId: string,
  known: string[],
  opts: { started?: boolean; workPoolName?: string } = {},
): Promise<FlowRun[]> {
  const states = opts.started ? ["PENDING", "RUNNING"] : ["PENDING"];
  // Only the pool the claim is for: a token bound to one pool reaches no other pool's runs even
  // with another agent's id.
  const inPool = opts.workPoolName ? " AND work_pool_name = ?" : "";
  // Every claim asks, and there are almost never any: a plain probe first (see runRowById).
  const held = await plainRows<{ id: string }>(
    c,
    `SELECT id FROM flow_runs WHERE agent_id = ? AND state_type IN (${placeholders(states.length)}) AND deployment_id IS NOT NULL${inPool}`,
    [agentId, ...states, ...(opts.workPoolName ? [opts.workPoolName] : [])],
  );
  if (held.every((r) => known.includes(r.id))) return [];
  const rows = await runWithNames(c).where(
    and(
      eq(c.t.flowRuns.agentId, agentId),
      opts.workPoolName ? eq(c.t.flowRuns.workPoolName, opts.workPoolName) : undefined,
      inArray(c.t.flowRuns.stateType, states),
      // A subflow run inside its parent's process is held under the parent's claim, not its own.
      isNotNull(c.t.flowRuns.deploymentId),
      known.length ? notInArray(c.t.flowRuns.id, known) : undefined,
    ),
  );
  return rows.map((r) => toFlowRun(r.r, r.flowName, r.deploymentName));
}

/** The earliest future start among a pool's SCHEDULED runs, so a waiting claim can wake for it. */
export async function nextScheduledStart(
  c: Conn,
  workPoolName: string,
  /** Times after this one (default now): a claim passes when it started looking, so none falls between. */
  after: string = nowIso(),
): Promise<string | null> {
  // Only future times: a due run this agent cannot take (another queue, awaiting retry) must not
  // turn the wait into a busy loop. Plain SQL: every waiting claim asks (see runRowById).
  const [row] = await plainRows<{ t: string | null }>(
    c,
    `SELECT min(next_scheduled_start_time) AS t FROM flow_runs
      WHERE work_pool_name = ? AND state_type = 'SCHEDULED' AND next_scheduled_start_time > ?`,
    [workPoolName, after],
  );
  return row?.t ?? null;
}

/** Runs an agent started that are now CANCELLING, so it can stop their processes. */
export async function listCancellingRuns(c: Conn, agentId: string, workPoolName: string): Promise<string[]> {
  // Subflow runs in their parent's process stop with it (the agent knows only the parent).
  // Plain SQL: every claim and heartbeat asks (see runRowById). Only the pool the asker serves:
  // a token for one pool learns nothing of another's runs by naming its agent.
  const found = await plainRows<{ id: string }>(
    c,
    "SELECT id FROM flow_runs WHERE agent_id = ? AND work_pool_name = ? AND state_type = 'CANCELLING' AND deployment_id IS NOT NULL",
    [agentId, workPoolName],
  );
  return found.map((r) => String(r.id));
}

/**
 * Of the runs an agent says it is running, those that are no longer its own: ended meanwhile
 * (crashed by a sweep while it could not be heard, say) or held by another agent since. Its
 * process for them must stop: the run may be running elsewhere already.
 */
export async function runsNotHeldBy(
  c: Conn,
  agentId: string,
  ids: string[],
): Promise<{ id: string; state: string; message: string | null }[]> {
  const out: { id: string; state: string; message: string | null }[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await plainRows<Record<string, unknown>>(
      c,
      `SELECT id, agent_id, state_type, state_name, state_message FROM flow_runs WHERE id IN (${chunk.map(() => "?").join(", ")})`,
      chunk,
    );
    // Completed or Failed: its own engine said so and its process is finishing, not to be cut
    // short. Crashed or Cancelled while it still runs: ended without it (a sweep, a cancel).
    for (const r of rows)
      if (r.agent_id !== agentId || r.state_type === "CRASHED" || r.state_type === "CANCELLED")
        out.push({
          id: String(r.id),
          state: String(r.state_name),
          message: r.state_message == null ? null : String(r.state_message),
        });
  }
  return out;
}

/**
 * Runs whose agent stopped heartbeating before `cutoff`: not-yet-started ones go back to
 * SCHEDULED for another agent, started ones end CRASHED (their process cannot be watched any more).
 * Returns how many of each. Each change goes through setFlowRunState, so history stays complete.
 */
export async function sweepOrphanedRuns(c: Conn, cutoff: string): Promise<{ crashed: number }> {
  const rows = await rawRows<{ id: string; state_type: string; agent_name: string }>(
    c,
    sql`
    SELECT r.id AS id, r.state_type AS state_type, COALESCE(a.name, r.agent_id) AS agent_name
    FROM flow_runs r LEFT JOIN agents a ON a.id = r.agent_id
    WHERE r.agent_id IS NOT NULL
      AND (r.state_type IN ('PENDING', 'RUNNING', 'CANCELLING')
        OR (r.state_type = 'SCHEDULED' AND r.state_name = 'AwaitingRetry'))
      AND (a.last_heartbeat < ${cutoff} OR (a.id IS NULL AND r.state_timestamp < ${cutoff}))`,
  );
  let crashed = 0;
  for (const row of rows) {
    const why = `agent "${row.agent_name}" stopped sending heartbeats`;
    try {
      // A claim is a lease: once it has expired the run is never handed out again as if new (its
      // process may have started before the agent died), it crashes; `weir flow-run retry` runs it again.
      // A run being cancelled whose agent is gone is cancelled: nobody is left to run it.
      await setFlowRunState(
        c,
        row.id,
        row.state_type === "CANCELLING"
          ? { type: "CANCELLED", message: `Cancelled; ${why} before confirming its infrastructure stopped` }
          : {
              type: "CRASHED",
              message:
                row.state_type === "PENDING"
                  ? `${why} before the run reported starting; not handed out again in case it had started (weir flow-run retry runs it again)`
                  : `${why} while the run was in progress`,
            },
      );
      crashed++;
    } catch (err) {
      // Someone else changed the run meanwhile (it finished, or another sweeper got it): fine.
      if (!(err instanceof WeirError && err.code === "CONFLICT")) throw err;
    }
  }
  return { crashed };
}

/** Keeps a flow run's return value (JSON text); a second write for the run replaces the first. */
export async function saveFlowRunResult(c: Conn, id: string, json: string): Promise<void> {
  const bytes = Buffer.byteLength(json);
  await upsertRows(
    c,
    c.t.flowRunResults,
    [{ flowRunId: id, created: nowIso(), bytes, json }],
    c.t.flowRunResults.flowRunId,
    ["created", "bytes", "json"],
  );
}

/** A flow run's stored result as JSON text, or null when it has none. */
export async function getFlowRunResult(c: Conn, id: string): Promise<{ json: string; bytes: number } | null> {
  const [row] = await c.db
    .select({ json: c.t.flowRunResults.json, bytes: c.t.flowRunResults.bytes })
    .from(c.t.flowRunResults)
    .where(eq(c.t.flowRunResults.flowRunId, id));
  return row ?? null;
}

/** The runs below a run (its subflows, theirs, ...), nearest first; for cancelling them with it. */
export async function descendantRuns(c: Conn, id: string): Promise<FlowRun[]> {
  // Most runs have none, and every final state asks: one indexed probe answers that.
  const [any] = await plainRows(c, "SELECT 1 AS x FROM flow_runs WHERE parent_flow_run_id = ? LIMIT 1", [id]);
  if (!any) return [];
  const out: FlowRun[] = [];
  let level = [id];
  for (let depth = 0; level.length > 0 && depth < 32; depth++) {
    const rows = await runWithNames(c).where(inArray(c.t.flowRuns.parentFlowRunId, level));
    const runs = rows.map((r) => toFlowRun(r.r, r.flowName, r.deploymentName));
    out.push(...runs);
    level = runs.map((r) => r.id);
  }
  return out;
}

/** The runs above a run (its parent, the parent's parent, ...), nearest first. */
export async function ancestorRunIds(c: Conn, id: string): Promise<string[]> {
  const out: string[] = [];
  let at: string | null = id;
  for (let depth = 0; at && depth < 32; depth++) {
    const [row] = await c.db
      .select({ parent: c.t.flowRuns.parentFlowRunId })
      .from(c.t.flowRuns)
      .where(eq(c.t.flowRuns.id, at));
    at = row?.parent ?? null;
    if (at) out.push(at);
  }
  return out;
}
