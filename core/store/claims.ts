import { and, asc, count, eq, inArray, isNull, lte, ne, notInArray, or, type SQL, sql } from "drizzle-orm";
import type { FlowRun } from "../model/index.ts";
import { type Conn, inTx, rawRows } from "./conn.ts";
import { readFlowRuns } from "./flow-runs.ts";
import { recordStates } from "./history.ts";
import { nowIso } from "./rows.ts";

export interface ClaimRequest {
  workPoolName: string;
  /** Only these queues; all of the pool's unpaused queues when empty. */
  queues: string[];
  agentId: string;
  limit: number;
}

/** Why a due run was not given out, when it is a limit of its own (not the pool's or queue's). */
const WAITING = "AwaitingConcurrencySlot";

/** Due runs read per round trip while filling a claim. */
const PAGE = 100;

/**
 * A run holds a slot of every limit it falls under while it is PENDING, RUNNING or CANCELLING, and
 * while its engine waits to retry it in the same process (SCHEDULED "AwaitingRetry").
 */
function active(c: Conn): SQL {
  const r = c.t.flowRuns;
  return or(
    inArray(r.stateType, ["PENDING", "RUNNING", "CANCELLING"]),
    and(eq(r.stateType, "SCHEDULED"), eq(r.stateName, "AwaitingRetry")),
  )!;
}

async function countActive(c: Conn, where: SQL): Promise<number> {
  const [row] = await c.db
    .select({ n: count() })
    .from(c.t.flowRuns)
    .where(and(active(c), where));
  return Number(row?.n ?? 0);
}

/** Active runs carrying a tag (tags are a JSON array in both dialects). */
export async function countActiveWithTag(c: Conn, tag: string): Promise<number> {
  const has =
    c.dialect === "postgres"
      ? sql`${c.t.flowRuns.tags} @> jsonb_build_array(${tag}::text)`
      : sql`EXISTS (SELECT 1 FROM json_each(${c.t.flowRuns.tags}) WHERE value = ${tag})`;
  return countActive(c, has);
}

/** Whether the pool has a SCHEDULED run due by `dueBy` that a claim could take (its queue aside). */
async function anyDue(c: Conn, pool: string, dueBy: string): Promise<boolean> {
  const r = c.t.flowRuns;
  const [row] = await c.db
    .select({ id: r.id })
    .from(r)
    .where(
      and(
        eq(r.workPoolName, pool),
        eq(r.stateType, "SCHEDULED"),
        ne(r.stateName, "AwaitingRetry"),
        or(isNull(r.nextScheduledStartTime), lte(r.nextScheduledStartTime, dueBy)),
      ),
    )
    .limit(1);
  return row !== undefined;
}

interface Slots {
  limit: number;
  used: number;
}
const full = (s: Slots | null | undefined): boolean => s != null && s.used >= s.limit;

/**
 * Moves up to `limit` due SCHEDULED runs of a pool to PENDING for one agent, honouring every limit
 * at once: the pool's and each queue's concurrency limit, the deployment's (`ENQUEUE`: the run
 * waits, named AwaitingConcurrencySlot; `CANCEL_NEW`: it ends CANCELLED with the reason), each
 * schedule's max_active_runs and every tag limit. Queues are served strictly by priority (lower
 * number first), runs by scheduled time within a queue. Paused pools and queues give nothing.
 *
 * Claims run one at a time (SQLite writes one transaction at a time; on PostgreSQL each claim takes
 * one advisory lock first, across all servers), so the counts a claim reads cannot change under it
 * except downwards (a run finishing), and no limit is ever exceeded.
 */
export async function claimFlowRuns(c: Conn, req: ClaimRequest): Promise<FlowRun[]> {
  if (req.limit <= 0) return [];
  // Most claims find nothing due (an agent re-arming its long poll): one indexed read answers
  // them, without a write transaction that would hold every other writer back. A run written
  // after this read wakes the claim (its route marks before looking); one that comes due by the
  // clock is the next start the route waits for.
  if (!(await anyDue(c, req.workPoolName, nowIso()))) return [];
  return inTx(c, async (tc) => {
    if (c.dialect === "postgres")
      await rawRows(tc, sql`SELECT pg_advisory_xact_lock(hashtext('weir-claims'))`);
    // Due by the time the lock was taken; the writes below are stamped after every read, so a
    // run's PENDING is never earlier than the end of a run whose slot it took.
    const dueBy = nowIso();
    const t = c.t;
    const [pool] = await tc.db.select().from(t.workPools).where(eq(t.workPools.name, req.workPoolName));
    if (!pool || pool.isPaused) return [];
    const known = await tc.db
      .select()
      .from(t.workQueues)
      .where(eq(t.workQueues.workPoolId, pool.id))
      .orderBy(asc(t.workQueues.priority), asc(t.workQueues.name));
    const wanted = (name: string) => req.queues.length === 0 || req.queues.includes(name);
    // A run of the pool with no queue (made before runs defaulted to one) is the default queue's.
    const qcol = sql<string>`coalesce(${t.flowRuns.workQueueName}, 'default')`;
    // The queues served, in priority order; then runs naming a queue the pool does not have (made
    // through the API without one): last, with no limit of their own.
    const served = known.filter((q) => !q.isPaused && wanted(q.name));
    const names = known.map((q) => q.name);
    const unknown = req.queues.filter((n) => !names.includes(n));
    const outside =
      req.queues.length === 0
        ? names.length
          ? notInArray(qcol, names)
          : sql`true`
        : unknown.length > 0
          ? inArray(qcol, unknown)
          : undefined;
    const inServed = served.length
      ? inArray(
          qcol,
          served.map((q) => q.name),
        )
      : undefined;
    const queueFilter = inServed && outside ? or(inServed, outside) : (inServed ?? outside);
    if (!queueFilter) return [];
    const rank = served.length
      ? sql`CASE ${qcol} ${sql.join(
          served.map((q, i) => sql`WHEN ${q.name} THEN ${i}`),
          sql` `,
        )} ELSE ${served.length} END`
      : null;

    // Counts per queue only when some limit needs them.
    const queueLimit = new Map(served.map((q) => [q.name, q.concurrencyLimit]));
    const byQueue = new Map<string | null, number>();
    if (pool.concurrencyLimit != null || served.some((q) => q.concurrencyLimit != null))
      for (const row of await tc.db
        .select({ queue: qcol, n: count() })
        .from(t.flowRuns)
        .where(and(active(tc), eq(t.flowRuns.workPoolName, pool.name)))
        .groupBy(qcol))
        byQueue.set(row.queue, Number(row.n));
    let budget = req.limit;
    if (pool.concurrencyLimit != null) {
      const used = [...byQueue.values()].reduce((a, b) => a + b, 0);
      budget = Math.min(budget, pool.concurrencyLimit - used);
    }
    if (budget <= 0) return [];
    const queueFree = (name: string | null): number => {
      const limit = name === null ? null : queueLimit.get(name);
      return limit == null ? Number.POSITIVE_INFINITY : limit - (byQueue.get(name) ?? 0);
    };

    const tagLimits = new Map<string, Slots>();
    for (const l of await tc.db.select().from(t.concurrencyLimits))
      tagLimits.set(l.tag, { limit: l.limit, used: await countActiveWithTag(tc, l.tag) });
    const deployments = new Map<string, Slots & { cancelNew: boolean }>();
    const schedules = new Map<string, Slots>();

    const take: string[] = [];
    const waiting: { id: string; message: string }[] = [];
    const cancel: { id: string; message: string }[] = [];
    const takenPerQueue = new Map<string | null, number>();
    // Runs created between pages shift an OFFSET window: a run read twice is looked at once.
    const seen = new Set<string>();
    for (let offset = 0; budget > 0; offset += PAGE) {
      // Every served queue at once, by priority then scheduled time; each run's deployment limit
      // and schedule max_active_runs come along, so a pool without limits costs one query.
      const query = tc.db
        .select({
          id: t.flowRuns.id,
          queue: qcol,
          deploymentId: t.flowRuns.deploymentId,
          scheduleId: t.flowRuns.scheduleId,
          tags: t.flowRuns.tags,
          stateName: t.flowRuns.stateName,
          deploymentLimit: t.deployments.concurrencyLimit,
          scheduleMax: t.deploymentSchedules.maxActiveRuns,
        })
        .from(t.flowRuns)
        .leftJoin(t.deployments, eq(t.deployments.id, t.flowRuns.deploymentId))
        .leftJoin(t.deploymentSchedules, eq(t.deploymentSchedules.id, t.flowRuns.scheduleId))
        .where(
          and(
            eq(t.flowRuns.workPoolName, pool.name),
            queueFilter,
            eq(t.flowRuns.stateType, "SCHEDULED"),
            ne(t.flowRuns.stateName, "AwaitingRetry"),
            or(isNull(t.flowRuns.nextScheduledStartTime), lte(t.flowRuns.nextScheduledStartTime, dueBy)),
          ),
        )
        .orderBy(...(rank ? [rank] : []), asc(t.flowRuns.nextScheduledStartTime), asc(t.flowRuns.id))
        .limit(PAGE)
        .offset(offset);
      // Rows another transaction is changing (a cancellation, a run being rescheduled) are
      // passed over rather than waited for; claims themselves already take turns.
      const page =
        c.dialect === "postgres"
          ? await (
              query as unknown as { for(s: "update", o: { skipLocked: boolean; of: unknown }): typeof query }
            ).for("update", { skipLocked: true, of: t.flowRuns })
          : await query;
      for (const run of page) {
        if (budget <= 0) break;
        if (seen.has(run.id)) continue;
        seen.add(run.id);
        const queue = served.some((q) => q.name === run.queue) ? run.queue : null;
        if (queueFree(queue) - (takenPerQueue.get(queue) ?? 0) <= 0) continue;
        const spec = run.deploymentLimit;
        let dep: (Slots & { cancelNew: boolean }) | null = null;
        if (run.deploymentId && spec && typeof spec.limit === "number") {
          dep = deployments.get(run.deploymentId) ?? null;
          if (!dep) {
            dep = {
              limit: spec.limit,
              cancelNew: spec.collision_strategy === "CANCEL_NEW",
              used: await countActive(tc, eq(t.flowRuns.deploymentId, run.deploymentId)),
            };
            deployments.set(run.deploymentId, dep);
          }
        }
        if (dep && full(dep)) {
          const message = `Deployment concurrency limit reached (${dep.used} of ${dep.limit} running)`;
          if (dep.cancelNew) cancel.push({ id: run.id, message });
          else if (run.stateName !== WAITING) waiting.push({ id: run.id, message });
          continue;
        }
        let sched: Slots | null = null;
        if (run.scheduleId && run.scheduleMax != null) {
          sched = schedules.get(run.scheduleId) ?? null;
          if (!sched) {
            sched = {
              limit: run.scheduleMax,
              used: await countActive(tc, eq(t.flowRuns.scheduleId, run.scheduleId)),
            };
            schedules.set(run.scheduleId, sched);
          }
        }
        if (sched && full(sched)) {
          if (run.stateName !== WAITING)
            waiting.push({
              id: run.id,
              message: `The schedule's max_active_runs is reached (${sched.used} of ${sched.limit} running)`,
            });
          continue;
        }
        const tag = (run.tags ?? []).find((x) => full(tagLimits.get(x)));
        if (tag !== undefined) {
          const l = tagLimits.get(tag)!;
          if (run.stateName !== WAITING)
            waiting.push({
              id: run.id,
              message: `Concurrency limit for tag "${tag}" reached (${l.used} of ${l.limit} running)`,
            });
          continue;
        }
        take.push(run.id);
        budget--;
        takenPerQueue.set(queue, (takenPerQueue.get(queue) ?? 0) + 1);
        if (dep) dep.used++;
        if (sched) sched.used++;
        for (const x of new Set(run.tags ?? [])) {
          const l = tagLimits.get(x);
          if (l) l.used++;
        }
      }
      if (page.length < PAGE) break;
    }

    const now = nowIso();
    if (cancel.length > 0) {
      for (const x of cancel)
        await tc.db
          .update(t.flowRuns)
          .set({
            stateType: "CANCELLED",
            stateName: "Cancelled",
            stateMessage: x.message,
            stateTimestamp: now,
            updated: now,
            endTime: now,
          })
          .where(and(eq(t.flowRuns.id, x.id), eq(t.flowRuns.stateType, "SCHEDULED")));
      await recordStates(
        tc,
        cancel.map((x) => ({ flowRunId: x.id, type: "CANCELLED", name: "Cancelled", message: x.message })),
        now,
      );
    }
    if (waiting.length > 0) {
      for (const x of waiting)
        await tc.db
          .update(t.flowRuns)
          .set({ stateName: WAITING, stateMessage: x.message, stateTimestamp: now, updated: now })
          .where(and(eq(t.flowRuns.id, x.id), eq(t.flowRuns.stateType, "SCHEDULED")));
      await recordStates(
        tc,
        waiting.map((x) => ({ flowRunId: x.id, type: "SCHEDULED", name: WAITING, message: x.message })),
        now,
      );
    }
    if (take.length === 0) return [];
    const claimed = await tc.db
      .update(t.flowRuns)
      .set({
        stateType: "PENDING",
        stateName: "Pending",
        stateMessage: null,
        stateTimestamp: now,
        updated: now,
        agentId: req.agentId,
      })
      .where(and(inArray(t.flowRuns.id, take), eq(t.flowRuns.stateType, "SCHEDULED")))
      .returning({ id: t.flowRuns.id });
    if (claimed.length === 0) return [];
    await recordStates(
      tc,
      claimed.map((r) => ({
        flowRunId: r.id,
        type: "PENDING",
        name: "Pending",
        message: null,
        data: { agent_id: req.agentId },
      })),
      now,
    );
    // In the order they were chosen: priority, then scheduled time.
    const order = new Map(take.map((id, i) => [id, i]));
    const runs = await readFlowRuns(
      tc,
      claimed.map((r) => r.id),
    );
    return runs.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  });
}
