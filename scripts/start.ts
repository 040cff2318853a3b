// `npm start`: the quick start. Runs the compiled server with a built-in agent for pool "local"
// on the embedded database ($WEIR_HOME, default ~/.weir), deploys the example project, and
// leaves the server running with the UI on http://127.0.0.1:4200.
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const weir = join(root, "dist", "weir");
const port = process.env.WEIR_SERVER_PORT ?? "4200";
const api = `http://127.0.0.1:${port}/api`;
const env = { ...process.env, WEIR_API_URL: api };

const server = Bun.spawn([weir, "server", "--port", port, "--agent", "local"], {
  env,
  stdio: ["ignore", "inherit", "inherit"],
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => server.kill(sig));

// Up means the API answers and the built-in agent has reported in (deploy then does not suggest
// starting one).
for (let i = 0; ; i++) {
  const up = await fetch(`${api}/agents?pool=local`).then(
    async (r) => r.ok && ((await r.json()) as unknown[]).length > 0,
    () => false,
  );
  if (up) break;
  if (server.exitCode !== null || i > 100) {
    console.error(`weir server did not start (is port ${port} taken? set WEIR_SERVER_PORT)`);
    process.exit(1);
  }
  await Bun.sleep(100);
}

const example = join(root, "examples", "hello");
const deployed = Bun.spawnSync([weir, "deploy", "--all"], {
  cwd: example,
  env,
  stdio: ["ignore", "inherit", "inherit"],
});
if (deployed.exitCode !== 0) process.exit(deployed.exitCode ?? 1);
console.log(`
Weir is running: UI on http://127.0.0.1:${port}/ (Ctrl-C to stop)
In another terminal try:
  dist/weir deployment run hello/daily --param name=Ada --watch
  dist/weir flow-run ls
`);
process.exit(await server.exited);
