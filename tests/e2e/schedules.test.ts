// Schedules through the compiled binary: runs created by the scheduler execute on time, pausing
// stops new ones, and deploy-time flags and files set schedules.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(90_000);

const FLOW = `import { flow, log } from "weir";
export const tick = flow({ name: "tick" }, async () => { log.info(\`tick at \${new Date().toISOString()}\`); });
`;

const YAML = `definitions:
  every2: &every2
    interval: 2
deployments:
  - name: fast
    entrypoint: flows/tick.ts:tick
    work_pool: { name: local }
    schedules:
      - <<: *every2
        slug: two-seconds
  - name: nightly
    entrypoint: flows/tick.ts:tick
    work_pool: { name: local }
    catchup: latest
    schedule: { cron: "0 3 * * *", timezone: Europe/Berlin }
`;

let env: Env;
let project: string;

beforeAll(async () => {
  env = new Env();
  project = env.project("sched", { "flows/tick.ts": FLOW, "weir.yaml": YAML });
  await env.startServer();
  await env.startAgent("local");
});
afterAll(() => env.dispose());

/** The deployment's runs still waiting for their time. */
const scheduledRuns = (deployment: string): Promise<any[]> =>
  env.json(["flow-run", "ls", "--deployment", deployment, "--state", "SCHEDULED"]);

const completed = async (deploymentId: string) =>
  (
    (await fetch(`${env.apiUrl}/flow-runs?deployment=${deploymentId}&state=COMPLETED&limit=100`).then((r) =>
      r.json(),
    )) as any[]
  ).sort((a, b) => Date.parse(a.expected_start_time) - Date.parse(b.expected_start_time));

describe("scheduled runs", () => {
  test("a 2-second interval schedule runs its runs in order, never early, and stops when paused", async () => {
    const r = await env.cli(["deploy", "--all"], { cwd: project });
    expect(r.code).toBe(0);
    const d = await env.json(["deployment", "inspect", "tick/fast"]);
    expect(d.schedules.map((s: any) => [s.slug, s.schedule.interval, s.active])).toEqual([
      ["two-seconds", 2, true],
    ]);
    // scheduled at once by the deploy, not at the next scheduler loop
    const upcoming = await scheduledRuns("tick/fast");
    expect(upcoming.length).toBeGreaterThanOrEqual(3);

    let done: any[] = [];
    for (let i = 0; i < 200 && done.length < 3; i++) {
      await Bun.sleep(100);
      done = await completed(d.id);
    }
    expect(done.length).toBeGreaterThanOrEqual(3);
    // pause first, so a failed expectation below does not leave the schedule running
    const p = await env.cli(["deployment", "schedule", "pause", "tick/fast", "two-seconds"]);
    expect(p.code).toBe(0);
    // Checked against the times the server recorded, not wall-clock gaps (CI machines are slow):
    // each run sits on the 2-second grid, after the one before it, and started no earlier than
    // its scheduled time; runs started in the order of their scheduled times.
    const expected = done.map((x) => Date.parse(x.expected_start_time));
    for (let i = 1; i < expected.length; i++) {
      const step = expected[i]! - expected[i - 1]!;
      expect(step).toBeGreaterThan(0);
      expect(step % 2_000).toBe(0);
    }
    for (const run of done) {
      expect(run.auto_scheduled).toBe(true);
      expect(Date.parse(run.start_time)).toBeGreaterThanOrEqual(Date.parse(run.expected_start_time));
    }
    const byStart = [...done].sort((a, b) => Date.parse(a.start_time) - Date.parse(b.start_time));
    expect(byStart.map((x) => x.id)).toEqual(done.map((x) => x.id));

    const afterPause = (await completed(d.id)).length;
    await Bun.sleep(3_500);
    const runsNow = await env.json(["flow-run", "ls", "--deployment", "tick/fast", "--limit", "100"]);
    expect(runsNow.filter((x: any) => x.state.type === "SCHEDULED")).toEqual([]);
    // at most the one run already claimed when the pause landed
    expect((await completed(d.id)).length).toBeLessThanOrEqual(afterPause + 1);
  });

  test("a redeploy does not resume the paused schedule", async () => {
    expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
    const d = await env.json(["deployment", "inspect", "tick/fast"]);
    expect(d.schedules[0].active).toBe(false);
  });

  test("the file's cron schedule, timezone and catch-up policy are stored", async () => {
    const d = await env.json(["deployment", "inspect", "tick/nightly"]);
    expect(d.schedules.map((s: any) => s.schedule)).toEqual([
      { cron: "0 3 * * *", timezone: "Europe/Berlin", day_or: true },
    ]);
    expect(d.catchup).toBe("latest");
    const upcoming = await scheduledRuns("tick/nightly");
    expect(upcoming.length).toBe(3);
    for (const run of upcoming)
      expect(new Date(run.expected_start_time).toISOString()).toMatch(/T0[12]:00:00/);
  });

  test("set-schedule, schedule ls, pause-schedule and --no-schedule", async () => {
    const set = await env.cli([
      "deployment",
      "set-schedule",
      "tick/nightly",
      "--interval",
      "PT1H",
      "--anchor-date",
      "2024-01-01T00:30:00Z",
    ]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("every 3600s");
    const ls = await env.cli(["deployment", "schedule", "ls", "tick/nightly"]);
    expect(ls.stdout).toContain("every 3600s");
    const upcoming = await scheduledRuns("tick/nightly");
    for (const run of upcoming) expect(run.expected_start_time).toMatch(/:30:00\.000Z$/);
    expect((await env.cli(["deployment", "pause-schedule", "tick/nightly"])).code).toBe(0);
    expect(await scheduledRuns("tick/nightly")).toEqual([]);
    expect((await env.cli(["deployment", "resume-schedule", "tick/nightly"])).code).toBe(0);
    expect((await scheduledRuns("tick/nightly")).length).toBeGreaterThanOrEqual(3);
    expect((await env.cli(["deployment", "set-schedule", "tick/nightly", "--no-schedule"])).code).toBe(0);
    expect((await env.json(["deployment", "inspect", "tick/nightly"])).schedules).toEqual([]);
  });

  test("a schedule that will never make a run is stored, as in Prefect, and said so", async () => {
    const feb30 = await env.cli(["deployment", "set-schedule", "tick/nightly", "--cron", "0 0 30 2 *"]);
    expect(feb30.code).toBe(0);
    expect(feb30.stdout).toContain(
      "note: this schedule has no run time from now on (it never matches, or its end has passed), so it will make no runs",
    );
    const over = await env.cli([
      "deployment",
      "schedule",
      "create",
      "tick/nightly",
      "--rrule",
      "FREQ=DAILY;UNTIL=20250101T000000Z",
    ]);
    expect(over.stdout).toContain("note: this schedule has no run time from now on");
    const dir = env.project("never", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml":
        'deployments:\n  - name: never\n    entrypoint: flows/hello.ts:hello\n    parameters: { name: x }\n    schedules: [{ cron: "0 0 30 2 *" }]\n',
    });
    const deployed = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toContain("note: schedule 1 has no run time from now on");
    const fine = await env.cli(["deployment", "set-schedule", "tick/nightly", "--cron", "0 9 * * *"]);
    expect(fine.stdout).not.toContain("note:");
    expect((await env.cli(["deployment", "set-schedule", "tick/nightly", "--no-schedule"])).code).toBe(0);
  });

  test("deployment pause / resume, and a schedule resumed on a paused deployment says it makes no runs", async () => {
    const paused = await env.cli(["deployment", "pause", "tick/nightly"]);
    expect([paused.code, paused.stdout.trim()]).toEqual([
      0,
      "Deployment tick/nightly paused: its schedules make no runs until: weir deployment resume tick/nightly",
    ]);
    expect((await env.json(["deployment", "inspect", "tick/nightly"])).paused).toBe(true);
    const resumedSchedules = await env.cli(["deployment", "resume-schedule", "tick/nightly"]);
    expect(resumedSchedules.stdout).toContain(
      "; the deployment itself is paused, so no schedule makes runs until: weir deployment resume tick/nightly",
    );
    expect((await env.cli(["deployment", "resume", "tick/nightly"])).stdout.trim()).toBe(
      "Deployment tick/nightly resumed",
    );
    expect((await env.json(["deployment", "inspect", "tick/nightly"])).paused).toBe(false);
  });

  test("weir schedule preview prints times in the schedule's zone", async () => {
    const r = await env.cli([
      "schedule",
      "preview",
      "--cron",
      "0 9 * * *",
      "--timezone",
      "America/New_York",
      "--after",
      "2024-03-09T00:00:00Z",
      "-n",
      "2",
      "--json",
    ]);
    expect(JSON.parse(r.stdout)).toEqual(["2024-03-09T09:00:00-05:00", "2024-03-10T09:00:00-04:00"]);
  });

  test("bad schedules are refused with the file position or the flag", async () => {
    const dir = env.project("bad-sched", {
      "flows/tick.ts": FLOW,
      "weir.yaml":
        "deployments:\n  - name: x\n    entrypoint: flows/tick.ts:tick\n    schedule: { cron: '0 9 * * *', timezone: Europe/Berln }\n",
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'weir.yaml:4:15: deployments[0].schedule: unknown timezone "Europe/Berln" (did you mean "Europe/Berlin"?)',
    );
    // a bad flag is a usage error (exit 2) wherever schedule flags are taken
    const flag = await env.cli(["deploy", "-n", "fast", "--rrule", "FREQ=DAILY;COUNT=3"], { cwd: project });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--rrule: RRule schedules with COUNT are not supported");
    const preview = await env.cli(["schedule", "preview", "--cron", "61 * * * *"]);
    expect(preview.code).toBe(2);
    expect(preview.stderr).toContain('--cron: cron "61 * * * *": field 1 (minute) "61" is not valid');
    const set = await env.cli(["deployment", "set-schedule", "tick/fast", "--interval", "soon"]);
    expect(set.code).toBe(2);
    expect(set.stderr).toContain('--interval: interval "soon" is not a number of seconds');
  });

  test("weir scheduler runs alone beside a server started with --no-scheduler", async () => {
    const split = new Env();
    try {
      await split.startServer(["--no-scheduler"]);
      const sched = split.spawn(["scheduler"], { env: { WEIR_SCHEDULER_LOOP_SECONDS: "0.5" } });
      await sched.waitFor(/Weir scheduler on /);
      await split.startAgent("local");
      const dir = split.project("p", { "flows/tick.ts": FLOW, "weir.yaml": YAML });
      expect((await split.cli(["deploy", "-n", "fast"], { cwd: dir })).code).toBe(0);
      const d = await split.json(["deployment", "inspect", "tick/fast"]);
      // the deploy scheduled 3 runs; after they ran, only the standalone scheduler can add more
      let done: any[] = [];
      for (let i = 0; i < 200 && done.length < 5; i++) {
        await Bun.sleep(100);
        done = (await fetch(`${split.apiUrl}/flow-runs?deployment=${d.id}&state=COMPLETED`).then((r) =>
          r.json(),
        )) as any[];
      }
      expect(done.length).toBeGreaterThanOrEqual(5);
      expect(sched.out).toMatch(/scheduler: \d+ run\(s\) created/);
    } finally {
      await split.dispose();
    }
  });
});
