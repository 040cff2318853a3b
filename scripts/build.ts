// Builds dist/weir: one self-contained executable (Bun runtime, Weir, libSQL's native addon, the
// migrations and the UI). It runs from an empty directory with no node_modules, Bun or Node.
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { sdkDeclarations } from "./sdk-types.ts";

const root = join(import.meta.dir, "..");
const outfile = process.env.WEIR_OUTFILE ?? join(root, "dist", "weir");
mkdirSync(join(outfile, ".."), { recursive: true });

// libsql picks its native addon with `require(\`@libsql/${target}\`)`, which no bundler can
// follow. Pin this platform's addon with a static require so it is embedded in the binary.
const target = `${process.platform}-${process.arch}${process.platform === "linux" ? "-gnu" : ""}`;
const libsqlNative = {
  name: "libsql-native",
  setup(build: Bun.PluginBuilder) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]libsql[\\/]index\.js$/ }, async (args) => {
      const src = await Bun.file(args.path).text();
      const pinned = src.replace(
        /return require\(`@libsql\/\$\{target\}`\);/,
        `return require("@libsql/${target}/index.node");`,
      );
      if (pinned === src)
        throw new Error("scripts/build.ts: libsql's loader changed; update the libsql-native plugin");
      return { contents: pinned, loader: "js" };
    });
  },
};

// `weir types` writes the declarations of "weir" generated from the SDK's source at build time
// (scripts/sdk-types.ts), never a hand-written copy: cmd/lib/write-types.ts imports them as the
// virtual module "weir-sdk-declarations:", a map of relative path → text.
const started = performance.now();
const declarations = sdkDeclarations(); // runs tsc alongside the bundling
declarations.catch(() => {}); // reported below, after the build, if nothing awaited it sooner
const sdkTypes = {
  name: "weir-sdk-declarations",
  setup(build: Bun.PluginBuilder) {
    build.onResolve({ filter: /^weir-sdk-declarations:$/ }, (args) => ({
      path: args.path,
      namespace: "weir-sdk-declarations",
    }));
    build.onLoad({ filter: /.*/, namespace: "weir-sdk-declarations" }, async () => ({
      contents: `export default ${JSON.stringify(await declarations)};`,
      loader: "js",
    }));
  },
};

const result = await Bun.build({
  // Worker threads are entrypoints of their own, embedded beside main (see DateExpander and
  // openStore's checkpoint thread).
  entrypoints: [
    join(root, "main.ts"),
    join(root, "core/schedules/date-worker.ts"),
    join(root, "core/store/checkpoint-worker.ts"),
  ],
  compile: { outfile },
  minify: true,
  bytecode: true,
  // Each command group is a chunk of its own, read when that command runs: a process loads the
  // code it uses, not all of Weir (`weir --version` ~49 → ~38 ms of CPU, `weir execute --warm`
  // ~68 → ~61 ms; splitting needs ES modules).
  splitting: true,
  format: "esm",
  plugins: [libsqlNative, sdkTypes],
});
await declarations;
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
console.log(`built ${outfile} (${mb} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
