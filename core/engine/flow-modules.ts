import * as valibot from "valibot";
import * as sdk from "../sdk/index.ts";

let registered = false;

/**
 * Makes `import ... from "weir"` and `from "valibot"` work in user flow files with nothing
 * installed: the binary serves both modules itself. Other imports resolve normally from the
 * flow project's own node_modules.
 */
export function registerFlowModules(): void {
  if (registered) return;
  registered = true;
  Bun.plugin({
    name: "weir-flow-modules",
    setup(build) {
      build.module("weir", () => ({ exports: { ...sdk }, loader: "object" }));
      build.module("valibot", () => ({ exports: { ...valibot }, loader: "object" }));
    },
  });
}
