import { pct, type Row, Weir } from "../lib.ts";

/** Flow-run creation over HTTP: 16 concurrent clients for 10 s (bounded, loopback only). */
export async function api(): Promise<Row[]> {
  const seconds = Number(process.env.BENCH_API_SECONDS ?? 10);
  const weir = await new Weir("api").start();
  try {
    const res = await fetch(`${weir.api}/deployments`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ flow_name: "api", name: "create", entrypoint: "flows/x.ts:x" }),
    });
    const { deployment } = (await res.json()) as { deployment: { id: string } };
    const url = `${weir.api}/deployments/${deployment.id}/runs`;
    const until = performance.now() + seconds * 1000;
    const lat: number[] = [];
    let errors = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const r = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          });
          await r.arrayBuffer();
          if (r.status === 201) lat.push(performance.now() - t0);
          else errors++;
        }
      }),
    );
    return [
      {
        metric: "flow-run creations/s (16 clients)",
        value: lat.length / seconds,
        unit: "/s",
        target: { atLeast: 2000 },
      },
      { metric: "p50 latency", value: pct(lat, 50), unit: "ms" },
      { metric: "p99 latency", value: pct(lat, 99), unit: "ms" },
      { metric: "errors", value: errors, unit: "" },
    ];
  } finally {
    await weir.stop();
  }
}
