import { pct, type Row, WEIR, Weir } from "../lib.ts";

function time(args: string[], env?: Record<string, string>): number[] {
  const out: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const r = Bun.spawnSync([WEIR, ...args], { stdout: "ignore", stderr: "ignore", env });
    if (r.exitCode !== 0) throw new Error(`weir ${args.join(" ")} failed`);
    out.push(performance.now() - t0);
  }
  return out;
}

const rows = (label: string, t: number[], target?: Row["target"]): Row[] => [
  { metric: `${label} min`, value: Math.min(...t), unit: "ms" },
  { metric: `${label} median`, value: pct(t, 50), unit: "ms", target },
  { metric: `${label} max`, value: Math.max(...t), unit: "ms" },
];

/** Wall time of `weir --version`, `--help`, and `deployment ls` against a server with 100 deployments. */
export async function cli(): Promise<Row[]> {
  const weir = await new Weir("cli").start();
  try {
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${weir.api}/deployments`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ flow_name: `flow-${i % 10}`, name: `dep-${i}`, entrypoint: "flows/x.ts:x" }),
        }),
      ),
    );
    return [
      ...rows("weir --version", time(["--version"])),
      ...rows("weir --help", time(["--help"]), { below: 50 }),
      ...rows("weir deployment ls (100)", time(["deployment", "ls"], weir.env)),
    ];
  } finally {
    await weir.stop();
  }
}
