import type { Registry } from "../../core/plugin/index.ts";
import { createRegistry } from "../../core/steps/index.ts";
import { PLUGINS } from "../../plugins/index.ts";

let built: Registry | undefined;

/** The one registry of this build: Weir's built-in steps and block types, and plugins/index.ts's. */
export function registry(): Registry {
  built ??= createRegistry(PLUGINS);
  return built;
}
