// The plugin registry: the one place that lists plugins, so the compiler bundles exactly these.
// Commands that run steps call registerPlugins() first; core never imports plugins.
import { registerGit } from "./git/index.ts";

let done = false;

export function registerPlugins(): void {
  if (done) return;
  done = true;
  registerGit();
}
