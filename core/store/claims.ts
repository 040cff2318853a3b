import type { FlowRun } from "../model/index.ts";
import { type Conn, inTx, placeholders, plainRows } from "./conn.ts";
import { readFlowRuns } from "./flow-runs.ts";
import { recordStates } from "./history.ts";
import { nowIso } from "./rows.ts";

export interface ClaimRequest {
  workPoolName: string;
  /** Only these queues; all of the pool's unpaused queues when empty. */
  queues: string[];
  agentId: string;
  limit: number;
  /**
   * The agent starts runs the moment it gets them: all of them (true: in its own process,
   * `--isolation none`), or the first N (the executors it has started and waiting). The claim
   * records each such run RUNNING as well as PENDING, saving the engine a request of its own. The
   * run's first attempt counts from here; its engine is told not to propose RUNNING again.
   */
  start?: boolean | number;
}

/** Why a due run was not given out, when it is a limit of its own (not the pool's or queue's). */
const WAITING = "AwaitingConcurrencySlot";

/** Due runs read per round trip while filling a claim. */
const PAGE = 100;

/**
 * A run holds a slot of every limit it falls under while it is PENDING, RUNNING or CANCELLING, and
 * while its engine waits to retry it in the same process (SCHEDULED "AwaitingRetry"). The claim's
 * statements are plain SQL on `flow_runs r` (see plainRows): every claim that finds work runs them.
 */
const ACTIVE =
  "(r.state_type IN ('PENDING', 'RUNNING', 'CANCELLING') OR (r.state_type = 'SCHEDULED' AND r.state_name = 'AwaitingRetry'))";

/** The pool's (`?`) runs waiting to start: SCHEDULED, but not a retry its own engine will make. */
const WAITING_IN_POOL =
  "r.work_pool_name = ? AND r.state_type = 'SCHEDULED' AND r.state_name <> 'AwaitingRetry'";

/** A run's queue: one with none (made before runs defaulted to one) is in the pool's default queue. */
const QUEUE = "coalesce(r.work_queue_name, 'default')";

/** Runs carrying any of `n` tags (tags are a JSON array in both dialects). */
const hasAnyTag = (c: Conn, n: number): string =>
  c.dialect === "postgres"
    ? `EXISTS (SELECT 1 FROM jsonb_array_elements_text(r.tags) AS tag(value) WHERE tag.value IN (${placeholders(n)}))`
    : `EXISTS (SELECT 1 FROM json_each(r.tags) WHERE value IN (${placeholders(n)}))`;

/** Active runs matching `where` (on `r`). */
async function countActive(c: Conn, where: string, args: unknown[]): Promise<number> {
  const [row] = await plainRows<{ n: unknown }>(
    c,
    `SELECT count(*) AS n FROM flow_runs r WHERE ${ACTIVE} AND ${where}`,
    args,
  );
  return Number(row?.n ?? 0);
}

/** Active runs carrying a tag. */
export async function countActiveWithTag(c: Conn, tag: string): Promise<number> {
  return countActive(c, hasAnyTag(c, 1), [tag]);
}

/** Whether the pool has a SCHEDULED run due by `dueBy` that a claim could take (its queue aside). */
async function anyDue(c: Conn, pool: string, dueBy: string): Promise<boolean> {
  // Two ranges of the claim index (timed runs, then runs without a time), each read from its
  // start: one condition joining them with OR would walk the pool's future runs as well. Plain
  // SQL: every claim asks, most of them finding nothing (see plainRows).
  const probe = `SELECT r.id FROM flow_runs r WHERE ${WAITING_IN_POOL} AND r.next_scheduled_start_time`;
  if ((await plainRows(c, `${probe} <= ? LIMIT 1`, [pool, dueBy])).length > 0) return true;
  return (await plainRows(c, `${probe} IS NULL LIMIT 1`, [pool])).length > 0;
}

/** A JSON column as either dialect returns it raw (SQLite: text). */
const json = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : (v ?? null));
/** A boolean column as either dialect returns it raw (SQLite: 0/1). */
const bool = (v: unknown): boolean => v === true || v === 1 || v === "1" || v === "t";
/** An integer column that may be NULL. */
const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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
      await plainRows(tc, "SELECT pg_advisory_xact_lock(hashtext('weir-claims'))");
    // Due by the time the lock was taken; the writes below are stamped after every read, so a
    // run's PENDING is never earlier than the end of a run whose slot it took.
    const dueBy = nowIso();
    // The pool, its queues and the tag limits in plain SQL: every claim that finds work reads them.
    const [poolRow] = await plainRows(
      tc,
      "SELECT id, name, is_paused, concurrency_limit FROM work_pools WHERE name = ?",
      [req.workPoolName],
    );
    if (!poolRow || bool(poolRow.is_paused)) return [];
    const pool = {
      id: String(poolRow.id),
      name: String(poolRow.name),
      concurrencyLimit: intOrNull(poolRow.concurrency_limit),
    };
    const known = (
      await plainRows(
        tc,
        "SELECT name, is_paused, concurrency_limit FROM work_queues WHERE work_pool_id = ? ORDER BY priority, name",
        [pool.id],
      )
    ).map((q) => ({
      name: String(q.name),
      isPaused: bool(q.is_paused),
      concurrencyLimit: intOrNull(q.concurrency_limit),
    }));
    const wanted = (name: string) => req.queues.length === 0 || req.queues.includes(name);
    // The queues served, in priority order; then runs naming a queue the pool does not have (made
    // through the API without one): last, with no limit of their own.
    const served = known.filter((q) => !q.isPaused && wanted(q.name));
    const names = known.map((q) => q.name);
    const unknown = req.queues.filter((n) => !names.includes(n));
    const outside: { where: string; args: unknown[] } | null =
      req.queues.length === 0
        ? names.length
          ? { where: `${QUEUE} NOT IN (${placeholders(names.length)})`, args: names }
          : { where: "1 = 1", args: [] }
        : unknown.length > 0
          ? { where: `${QUEUE} IN (${placeholders(unknown.length)})`, args: unknown }
          : null;
    // A queue whose limit is reached is passed over for the rest of the claim; full deployments,
    // schedules and tags leave the query (below): a backlog behind a full limit costs a claim one
    // page, not a scan of the backlog page by page.
    const fullQueues = new Set<string>();
    /** The served queues not full yet, or the runs outside them. */
    const queueFilter = (): { where: string; args: unknown[] } => {
      const open = served.filter((q) => !fullQueues.has(q.name)).map((q) => q.name);
      const parts = [
        ...(open.length ? [{ where: `${QUEUE} IN (${placeholders(open.length)})`, args: open }] : []),
        ...(outside ? [outside] : []),
      ];
      return parts.length
        ? { where: `(${parts.map((p) => p.where).join(" OR ")})`, args: parts.flatMap((p) => p.args) }
        : { where: "1 = 0", args: [] };
    };
    if (served.length === 0 && !outside) return [];
    // Counts per queue only when some limit needs them.
    const queueLimit = new Map(served.map((q) => [q.name, q.concurrencyLimit]));
    const byQueue = new Map<string | null, number>();
    if (pool.concurrencyLimit != null || served.some((q) => q.concurrencyLimit != null))
      for (const row of await plainRows<{ queue: string; n: unknown }>(
        tc,
        `SELECT ${QUEUE} AS queue, count(*) AS n FROM flow_runs r WHERE ${ACTIVE} AND r.work_pool_name = ?
          GROUP BY ${QUEUE}`,
        [pool.name],
      ))
        byQueue.set(String(row.queue), Number(row.n));
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
    for (const l of await plainRows(tc, "SELECT tag, concurrency_limit FROM concurrency_limits"))
      tagLimits.set(String(l.tag), {
        limit: Number(l.concurrency_limit),
        used: await countActiveWithTag(tc, String(l.tag)),
      });
    const deployments = new Map<string, Slots & { cancelNew: boolean }>();
    const schedules = new Map<string, Slots>();
    // Limits found full while filling this claim. Counts only grow while it holds the claim lock
    // (a run that ends meanwhile frees a slot for the next claim), so a full one stays full.
    const fullDeployments = new Set<string>();
    const fullSchedules = new Set<string>();
    const fullTags = new Set<string>();
    /** The due runs of the served queues this claim may still give out, narrowed by `extra`. */
    const candidates = (extra: string[], extraArgs: unknown[]) => {
      const queues = queueFilter();
      return {
        where: [
          WAITING_IN_POOL,
          queues.where,
          "(r.next_scheduled_start_time IS NULL OR r.next_scheduled_start_time <= ?)",
          ...extra,
        ].join(" AND "),
        args: [pool.name, ...queues.args, dueBy, ...extraArgs],
      };
    };
    const take: string[] = [];
    const takenPerQueue = new Map<string | null, number>();
    // Runs already looked at: taken ones are still SCHEDULED until the end, and a page read again
    // (after the query narrowed, or when runs created meanwhile shift the window) repeats rows.
    const seen = new Set<string>();
    // Queue by queue in priority order, then the runs outside the served queues; within each, runs
    // with no start time (as due as can be) and then the due ones by time. Each is a range of the
    // claim index read in its order: no claim sorts the pool's whole backlog.
    const due: [string, unknown[]][] = [
      ["r.next_scheduled_start_time IS NULL", []],
      ["r.next_scheduled_start_time <= ?", [dueBy]],
    ];
    const groups = [
      ...served.flatMap((q) =>
        due.map(([d, args]) => ({ queue: q.name, where: `${QUEUE} = ? AND ${d}`, args: [q.name, ...args] })),
      ),
      ...(outside
        ? due.map(([d, args]) => ({
            queue: null,
            where: `${outside.where} AND ${d}`,
            args: [...outside.args, ...args],
          }))
        : []),
    ];
    for (const group of groups) {
      for (let offset = 0; budget > 0 && !(group.queue && fullQueues.has(group.queue)); ) {
        // Each run's deployment limit and schedule max_active_runs come along, so a pool without
        // limits costs one query per queue. Runs behind a full deployment, schedule or tag leave
        // the query. Plain SQL (see plainRows): every claim that finds work reads these pages.
        const where = [WAITING_IN_POOL, group.where];
        const args: unknown[] = [pool.name, ...group.args];
        if (fullDeployments.size) {
          where.push(
            `(r.deployment_id IS NULL OR r.deployment_id NOT IN (${placeholders(fullDeployments.size)}))`,
          );
          args.push(...fullDeployments);
        }
        if (fullSchedules.size) {
          where.push(`(r.schedule_id IS NULL OR r.schedule_id NOT IN (${placeholders(fullSchedules.size)}))`);
          args.push(...fullSchedules);
        }
        if (fullTags.size) {
          where.push(`NOT ${hasAnyTag(c, fullTags.size)}`);
          args.push(...fullTags);
        }
        // Rows another transaction is changing (a cancellation, a run being rescheduled) are
        // passed over rather than waited for; claims themselves already take turns.
        const page = (
          await plainRows(
            tc,
            `SELECT r.id AS id, ${QUEUE} AS queue, r.deployment_id AS deployment_id,
              r.schedule_id AS schedule_id, r.tags AS tags, d.concurrency_limit AS deployment_limit,
              s.max_active_runs AS schedule_max
            FROM flow_runs r LEFT JOIN deployments d ON d.id = r.deployment_id
              LEFT JOIN deployment_schedules s ON s.id = r.schedule_id
            WHERE ${where.join(" AND ")}
            ORDER BY r.next_scheduled_start_time, r.id LIMIT ? OFFSET ?${
              c.dialect === "postgres" ? " FOR UPDATE OF r SKIP LOCKED" : ""
            }`,
            [...args, PAGE, offset],
          )
        ).map((x) => ({
          id: String(x.id),
          queue: String(x.queue),
          deploymentId: x.deployment_id == null ? null : String(x.deployment_id),
          scheduleId: x.schedule_id == null ? null : String(x.schedule_id),
          tags: json(x.tags) as string[] | null,
          deploymentLimit: json(x.deployment_limit) as {
            limit?: unknown;
            collision_strategy?: string;
          } | null,
          scheduleMax: x.schedule_max == null ? null : Number(x.schedule_max),
        }));
        // A limit found full narrows the query: reading on from the start of the narrowed set
        // finds the runs the full limits' backlog was hiding.
        let narrowed = false;
        const block = (set: Set<string>, key: string) => {
          if (!set.has(key)) narrowed = true;
          set.add(key);
        };
        for (const run of page) {
          if (budget <= 0) break;
          if (seen.has(run.id)) continue;
          seen.add(run.id);
          const queue = served.some((q) => q.name === run.queue) ? run.queue : null;
          if (queueFree(queue) - (takenPerQueue.get(queue) ?? 0) <= 0) {
            if (queue !== null) block(fullQueues, queue);
            continue;
          }
          const spec = run.deploymentLimit;
          let dep: (Slots & { cancelNew: boolean }) | null = null;
          if (run.deploymentId && spec && typeof spec.limit === "number") {
            dep = deployments.get(run.deploymentId) ?? null;
            if (!dep) {
              dep = {
                limit: spec.limit,
                cancelNew: spec.collision_strategy === "CANCEL_NEW",
                used: await countActive(tc, "r.deployment_id = ?", [run.deploymentId]),
              };
              deployments.set(run.deploymentId, dep);
            }
          }
          if (dep && full(dep)) {
            block(fullDeployments, run.deploymentId!);
            continue;
          }
          let sched: Slots | null = null;
          if (run.scheduleId && run.scheduleMax != null) {
            sched = schedules.get(run.scheduleId) ?? null;
            if (!sched) {
              sched = {
                limit: run.scheduleMax,
                used: await countActive(tc, "r.schedule_id = ?", [run.scheduleId]),
              };
              schedules.set(run.scheduleId, sched);
            }
          }
          if (sched && full(sched)) {
            block(fullSchedules, run.scheduleId!);
            continue;
          }
          const tag = (run.tags ?? []).find((x) => full(tagLimits.get(x)));
          if (tag !== undefined) {
            block(fullTags, tag);
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
        offset = narrowed ? 0 : offset + PAGE;
      }
    }

    const now = nowIso();
    // The first runs chosen are the ones started, when the agent starts only some.
    const starting = req.start === true ? take.length : Math.min(take.length, Number(req.start ?? 0));
    const mark = async (ids: string[], start: boolean) => {
      if (ids.length === 0) return [];
      const marked = await plainRows<{ id: string }>(
        tc,
        `UPDATE flow_runs SET state_type = ?, state_name = ?, state_message = NULL, state_timestamp = ?,
          updated = ?, agent_id = ?${start ? ", run_count = run_count + 1, start_time = coalesce(start_time, ?)" : ""}
        WHERE id IN (${placeholders(ids.length)}) AND state_type = 'SCHEDULED' RETURNING id`,
        [
          ...(start ? ["RUNNING", "Running"] : ["PENDING", "Pending"]),
          now,
          now,
          req.agentId,
          ...(start ? [now] : []),
          ...ids,
        ],
      );
      // Both states when the claim starts the run, in this order (ids grow within a timestamp).
      await recordStates(
        tc,
        marked.flatMap((x) => [
          {
            flowRunId: x.id,
            type: "PENDING",
            name: "Pending",
            message: null,
            data: { agent_id: req.agentId },
          },
          ...(start ? [{ flowRunId: x.id, type: "RUNNING", name: "Running", message: null }] : []),
        ]),
        now,
      );
      return marked;
    };
    const claimed = [
      ...(await mark(take.slice(0, starting), true)),
      ...(await mark(take.slice(starting), false)),
    ];
    // The due runs behind a full limit, all at once (the claimed ones are PENDING by now): with
    // CANCEL_NEW they end CANCELLED; otherwise they wait, named AwaitingConcurrencySlot, once.
    const settle = async (where: string, args: unknown[], message: string, cancelNew = false) => {
      const due = cancelNew
        ? candidates([where], args)
        : candidates([where, "r.state_name <> ?"], [...args, WAITING]);
      const ids = await plainRows<{ id: string }>(
        tc,
        cancelNew
          ? `UPDATE flow_runs AS r SET state_type = 'CANCELLED', state_name = 'Cancelled', state_message = ?,
              state_timestamp = ?, updated = ?, end_time = ? WHERE ${due.where} RETURNING id`
          : `UPDATE flow_runs AS r SET state_name = ?, state_message = ?, state_timestamp = ?, updated = ?
              WHERE ${due.where} RETURNING id`,
        cancelNew ? [message, now, now, now, ...due.args] : [WAITING, message, now, now, ...due.args],
      );
      const [type, name] = cancelNew ? ["CANCELLED", "Cancelled"] : ["SCHEDULED", WAITING];
      await recordStates(
        tc,
        ids.map((x) => ({ flowRunId: x.id, type, name, message })),
        now,
      );
    };
    for (const id of fullDeployments) {
      const dep = deployments.get(id)!;
      await settle(
        "r.deployment_id = ?",
        [id],
        `Deployment concurrency limit reached (${dep.used} of ${dep.limit} running)`,
        dep.cancelNew,
      );
    }
    for (const id of fullSchedules) {
      const sched = schedules.get(id)!;
      await settle(
        "r.schedule_id = ?",
        [id],
        `The schedule's max_active_runs is reached (${sched.used} of ${sched.limit} running)`,
      );
    }
    for (const tag of fullTags) {
      const l = tagLimits.get(tag)!;
      await settle(
        hasAnyTag(tc, 1),
        [tag],
        `Concurrency limit for tag "${tag}" reached (${l.used} of ${l.limit} running)`,
      );
    }
    if (claimed.length === 0) return [];
    // In the order they were chosen: priority, then scheduled time.
    const order = new Map(take.map((id, i) => [id, i]));
    const runs = await readFlowRuns(
      tc,
      claimed.map((r) => r.id),
    );
    return runs.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  });
}
