import { SQL } from "bun";
import { postgresMissing, startPostgres } from "../../tests/e2e/postgres.ts";
import { pct, type Row, Weir } from "../lib.ts";
import { dispatchLatencies } from "./dispatch.ts";

/**
 * PostgreSQL against the embedded database in the same run: flow-run creations/s with 16 clients
 * and dispatch latency (run created → the flow's first line), on each, and across two servers
 * (created through one, the agent on the other: the LISTEN/NOTIFY wake-up). Then the runs table at
 * 1,000,000 rows (100 deployments, mixed states): listing a deployment's runs and the failed
 * runs (p99 of 200 requests each), and the UI's home page.
 */
export async function postgres(): Promise<Row[]> {
  const missing = postgresMissing();
  if (missing) {
    console.log(`postgres scenario skipped: ${missing}`);
    return [];
  }
  const seconds = Number(process.env.BENCH_API_SECONDS ?? 5);
  const dispatchRuns = Number(process.env.BENCH_RUNS ?? 50);
  const rowsWanted = Number(process.env.BENCH_ROWS ?? 1_000_000);
  const pg = await startPostgres();
  try {
    const measure = async (weir: Weir) => {
      await weir.start();
      try {
        const dispatch = await dispatchLatencies(dispatchRuns, weir);
        // Creation throughput, on a deployment in a pool no agent polls (nothing runs meanwhile).
        const res = await fetch(`${weir.api}/deployments`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ flow_name: "api", name: "create", entrypoint: "flows/x.ts:x" }),
        });
        const { deployment } = (await res.json()) as { deployment: { id: string } };
        const until = performance.now() + seconds * 1000;
        let created = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (performance.now() < until) {
              const r = await fetch(`${weir.api}/deployments/${deployment.id}/runs`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: "{}",
              });
              await r.arrayBuffer();
              if (r.status === 201) created++;
            }
          }),
        );
        return { perSecond: created / seconds, dispatch50: pct(dispatch, 50), dispatch95: pct(dispatch, 95) };
      } finally {
        await weir.stop();
      }
    };
    const embedded = await measure(new Weir("pg-peer-embedded"));
    const onPg = await measure(new Weir("pg-postgres", await pg.createDatabase("bench")));

    // Across servers: runs created through server A, the agent waiting on server B, which looks
    // for unannounced runs only every 10 minutes: what reaches it is A's NOTIFY.
    const crossDb = await pg.createDatabase("cross");
    const a = new Weir("pg-cross-a", crossDb);
    const b = new Weir("pg-cross-b", crossDb);
    b.extraEnv = { WEIR_CLAIM_RECHECK_MS: "600000" };
    const cross: number[] = [];
    await a.start();
    await b.start();
    try {
      cross.push(...(await dispatchLatencies(dispatchRuns, b, a)));
    } finally {
      await b.stop();
      await a.stop();
    }

    // The runs table at a million rows, written straight with SQL (the same columns the store writes).
    const big = await pg.createDatabase("big");
    const seed = new Weir("pg-big", big);
    await seed.start();
    await seed.stop();
    const sql = new SQL(big);
    const started = performance.now();
    await sql`INSERT INTO flows (id, created, updated, name, tags) VALUES ('f', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'big', '[]'::jsonb)`;
    await sql`INSERT INTO deployments (id, created, updated, name, flow_id, is_schedule_active, parameters, tags, job_variables, enforce_parameter_schema, paused)
      SELECT 'd' || i, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'd' || i, 'f', true, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb, true, false
      FROM generate_series(0, 99) i`;
    await sql.unsafe(`INSERT INTO flow_runs (id, created, updated, name, flow_id, deployment_id, parameters, job_variables, tags,
        state_type, state_name, state_timestamp, expected_start_time, total_run_time, run_count, auto_scheduled)
      SELECT 'r' || lpad(i::text, 8, '0'),
        to_char(timestamp '2026-01-01' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(timestamp '2026-01-01' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'run-' || i, 'f', 'd' || (i % 100), '{}'::jsonb, '{}'::jsonb, '[]'::jsonb,
        (ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','FAILED','CRASHED'])[1 + i % 10],
        'Done', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1000, 1, false
      FROM generate_series(0, ${rowsWanted - 1}) i`);
    await sql`ANALYZE`;
    const seedSeconds = (performance.now() - started) / 1000;
    await sql.close();
    const weir = new Weir("pg-big-server", big);
    await weir.start();
    try {
      const time = async (path: string, n: number, base = weir.api) => {
        const lat: number[] = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const r = await fetch(base + path.replace("{i}", String(i % 100)));
          await r.arrayBuffer();
          if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
          lat.push(performance.now() - t0);
        }
        return lat;
      };
      const byDeployment = await time("/flow-runs?deployment=d{i}&limit=50", 200);
      const failed = await time("/flow-runs?state=FAILED&limit=50", 200);
      const home = await time("/", 50, weir.api.replace(/\/api$/, ""));
      return [
        {
          metric: "flow-run creations/s (16 clients)",
          value: onPg.perSecond,
          unit: "/s",
          peer: embedded.perSecond,
        },
        {
          metric: `dispatch p50 (${dispatchRuns} runs)`,
          value: onPg.dispatch50,
          unit: "ms",
          peer: embedded.dispatch50,
        },
        { metric: "dispatch p95", value: onPg.dispatch95, unit: "ms", peer: embedded.dispatch95 },
        {
          metric: "dispatch p50, created on A, agent on B",
          value: pct(cross, 50),
          unit: "ms",
          peer: onPg.dispatch50,
        },
        { metric: `runs table rows (seeded in ${seedSeconds.toFixed(0)} s)`, value: rowsWanted, unit: "" },
        {
          metric: "list a deployment's runs p99",
          value: pct(byDeployment, 99),
          unit: "ms",
          target: { below: 50 },
        },
        { metric: "list failed runs p99", value: pct(failed, 99), unit: "ms", target: { below: 50 } },
        { metric: "UI home page p50", value: pct(home, 50), unit: "ms", target: { below: 100 } },
        { metric: "UI home page p99", value: pct(home, 99), unit: "ms" },
      ];
    } finally {
      await weir.stop();
    }
  } finally {
    await pg.dispose();
  }
}
