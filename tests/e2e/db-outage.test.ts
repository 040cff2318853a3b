// PostgreSQL restarted under load: requests during the outage are answered 503 with a retry hint
// (never a 500, never left hanging), the server, its agent and the flows' engines reconnect, and
// every acknowledged run executes exactly once. Through the compiled binary.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { Env } from "./harness.ts";
import { type PostgresServer, postgresOnlyMissing, startPostgres } from "./postgres.ts";

setDefaultTimeout(240_000);

const missing = postgresOnlyMissing("database outage test");

const APPEND_FLOW = `import { appendFileSync } from "node:fs";
import { flow } from "weir";

export const mark = flow({ name: "mark" }, async () => {
  appendFileSync(process.env.MARKS!, \`\${process.env.WEIR_FLOW_RUN_ID}\\n\`);
});
`;

let pg: PostgresServer;
let env: Env;
beforeAll(async () => {
  if (missing) return;
  pg = await startPostgres();
  env = new Env();
  env.database = await pg.createDatabase("outage");
});
afterAll(async () => {
  await env?.dispose();
  await pg?.dispose();
});

describe.skipIf(missing !== null)("a PostgreSQL restart under load", () => {
  test("requests get 503 with Retry-After meanwhile; afterwards every acknowledged run ran exactly once", async () => {
    const marks = join(env.root, "marks.txt");
    await env.startServer();
    // The pool exists before deploy names it (the agent would create it, but maybe not in time).
    expect((await env.cli(["work-pool", "create", "local"])).code).toBe(0);
    env.spawn(["agent", "--pool", "local"], { env: { MARKS: marks } });
    const dir = env.project("outage", {
      "flows/mark.ts": APPEND_FLOW,
      "weir.yaml":
        "deployments:\n  - { name: once, entrypoint: flows/mark.ts:mark, work_pool: { name: local } }\n",
    });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const { id } = (await fetch(`${env.apiUrl}/deployments/name/mark/once`).then((r) => r.json())) as {
      id: string;
    };

    const acknowledged = new Set<string>();
    const statuses: number[] = [];
    const hints: (string | null)[] = [];
    let stop = false;
    // Clients creating runs and reading, without retrying: what they are answered is what is asserted.
    const load = async () => {
      while (!stop) {
        const res = await fetch(`${env.apiUrl}/deployments/${id}/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
          signal: AbortSignal.timeout(60_000),
        });
        statuses.push(res.status);
        if (res.status === 201) acknowledged.add(((await res.json()) as { id: string }).id);
        else {
          hints.push(res.headers.get("retry-after"));
          await res.text();
        }
        await Bun.sleep(10);
      }
    };
    const clients = [load(), load(), load()];
    while (acknowledged.size < 30) await Bun.sleep(20);
    await pg.restart();
    const after = acknowledged.size;
    while (acknowledged.size < after + 30) await Bun.sleep(20);
    stop = true;
    await Promise.all(clients);

    console.log(
      `database restart: ${statuses.filter((s) => s === 503).length} of ${statuses.length} requests answered 503`,
    );
    // Never a 500; whatever the outage cost was a 503 saying when to try again.
    expect(statuses.filter((s) => s !== 201 && s !== 503)).toEqual([]);
    expect(hints.every((h) => h !== null && Number(h) > 0)).toBe(true);

    // Every acknowledged run ends, having run exactly once.
    const ended = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);
    let open: string[] = [...acknowledged];
    for (let i = 0; i < 1200 && open.length > 0; i++) {
      const runs = (await fetch(`${env.apiUrl}/flow-runs?deployment=${id}&limit=1000`).then((r) =>
        r.json(),
      )) as {
        id: string;
        state: { type: string };
      }[];
      const done = new Set(runs.filter((r) => ended.has(r.state.type)).map((r) => r.id));
      open = open.filter((x) => !done.has(x));
      if (open.length) await Bun.sleep(100);
    }
    expect(open).toEqual([]);
    const lines = existsSync(marks) ? readFileSync(marks, "utf8").trim().split("\n") : [];
    const counts = new Map<string, number>();
    for (const x of lines) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect([...acknowledged].filter((x) => !counts.has(x))).toEqual([]);
  });
});

describe.skipIf(missing !== null)("a database that refuses this server's connections", () => {
  test("requests get 503 saying so, the server's log gives PostgreSQL's reason, and it recovers", async () => {
    const server = env.services.find((s) => s.out.includes("listening on"))!;
    const hba = join(pg.data, "pg_hba.conf");
    const allowed = readFileSync(hba, "utf8");
    // An admin connection made before the change: it survives to reload and to cut the others.
    const admin = new SQL(env.database!);
    await admin`SELECT 1`;
    writeFileSync(hba, "local all all trust\nhost all all 127.0.0.1/32 reject\n");
    await admin`SELECT pg_reload_conf()`;
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND usename IS NOT NULL`;
    try {
      // The connections cut first answer "cannot be reached"; the new ones are refused.
      const answer = async () => {
        const res = await fetch(`${env.apiUrl}/flows`);
        const body = (await res.json()) as { error?: { message: string } };
        return { status: res.status, retry: res.headers.get("retry-after"), message: body.error?.message };
      };
      let got = await answer();
      for (let i = 0; i < 100 && !got.message?.includes("refuses"); i++) {
        expect(got.status === 200 || got.status === 503).toBe(true);
        await Bun.sleep(100);
        got = await answer();
      }
      expect([got.status, got.retry]).toEqual([503, "2"]);
      expect(got.message).toContain("The database refuses this server's connections right now");
      // The readiness check says so too; liveness stays 200 (the process is fine).
      expect((await fetch(`${env.apiUrl}/ready`)).status).toBe(503);
      expect((await fetch(`${env.apiUrl}/health`)).status).toBe(200);
      await server.waitFor(/pg_hba\.conf rejects connection/);
      expect(server.out).not.toMatch(/internal error \(request [^)]*\): Failed query/);
    } finally {
      writeFileSync(hba, allowed);
      await admin`SELECT pg_reload_conf()`;
      await admin.close();
    }
    let back = 0;
    for (let i = 0; i < 100 && back !== 200; i++) {
      back = (await fetch(`${env.apiUrl}/flows`)).status;
      if (back !== 200) await Bun.sleep(100);
    }
    expect(back).toBe(200);
    expect((await fetch(`${env.apiUrl}/ready`)).status).toBe(200);
  });
});
