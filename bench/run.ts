// npm run bench [-- scenario ...]: runs scenarios against the compiled binary (dist/weir; build
// first), prints a table per scenario with targets, and writes bench/results/<scenario>.json.
// `npm run bench -- peers` runs the side-by-side comparison (bench/peers.ts). Never part of CI.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { type Row, WEIR, WORK } from "./lib.ts";
import { api } from "./scenarios/api.ts";
import { chain } from "./scenarios/chain.ts";
import { cli } from "./scenarios/cli.ts";
import { dispatch } from "./scenarios/dispatch.ts";
import { docker } from "./scenarios/docker.ts";
import { footprint } from "./scenarios/footprint.ts";
import { postgres } from "./scenarios/postgres.ts";
import { s3 } from "./scenarios/s3.ts";
import { scheduler } from "./scenarios/scheduler.ts";
import { throughput } from "./scenarios/throughput.ts";
import { ui } from "./scenarios/ui.ts";

const SCENARIOS: Record<string, () => Promise<Row[]>> = {
  cli,
  footprint,
  dispatch,
  chain,
  throughput,
  api,
  scheduler,
  s3,
  docker,
  postgres,
  ui,
  peers: async () => (await import("./peers.ts")).peers(),
};
const ALL = [
  "cli",
  "footprint",
  "dispatch",
  "chain",
  "throughput",
  "api",
  "scheduler",
  "s3",
  "docker",
  "postgres",
  "ui",
];

const verdict = (r: Row): string => {
  if (!r.target) return "";
  if (r.target.below !== undefined)
    return `${r.value < r.target.below ? "pass" : "MISS"} (< ${r.target.below})`;
  return `${r.value >= r.target.atLeast! ? "pass" : "MISS"} (>= ${r.target.atLeast})`;
};
const fmt = (v: number) => (Number.isNaN(v) ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(1));

export function printTable(name: string, rows: Row[]): void {
  const withPeer = rows.some((r) => r.peer !== undefined);
  console.log(`\n${name}${withPeer ? `  (columns: Weir, peer, Weir/peer)` : ""}`);
  for (const r of rows) {
    const peer = withPeer
      ? `${(r.peer === undefined ? "" : fmt(r.peer)).padStart(10)} ${r.peer ? `x${(r.value / r.peer).toFixed(2)}`.padStart(8) : "".padStart(8)}`
      : "";
    console.log(
      `  ${r.metric.padEnd(40)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(3)}${peer}  ${verdict(r)}`,
    );
  }
}

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
const unknown = wanted.filter((w) => !SCENARIOS[w]);
if (unknown.length) {
  console.error(`unknown scenario(s) ${unknown.join(", ")} (known: ${Object.keys(SCENARIOS).join(", ")})`);
  process.exit(2);
}
if (!existsSync(WEIR)) {
  console.error(`${WEIR} does not exist: run npm run build first`);
  process.exit(2);
}
const results = join(import.meta.dir, "results");
mkdirSync(results, { recursive: true });
console.log(`Weir benchmarks on ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"})`);
try {
  for (const name of wanted) {
    const rows = await SCENARIOS[name]!();
    printTable(name, rows);
    writeFileSync(
      join(results, `${name}.json`),
      `${JSON.stringify({ scenario: name, at: new Date().toISOString(), cores: cpus().length, rows }, null, 2)}\n`,
    );
  }
} finally {
  rmSync(WORK, { recursive: true, force: true });
}
