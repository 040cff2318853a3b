// The plugin list: the one place that names plugins, so the compiler bundles exactly these. The
// commands build one Registry from it (see cmd/lib/registry.ts); core never imports plugins.
import type { Plugin } from "../core/plugin/index.ts";
import { azurePlugin } from "./azure/index.ts";
import { dockerPlugin } from "./docker/index.ts";
import { gitPlugin } from "./git/index.ts";
import { s3Plugin } from "./s3/index.ts";

export const PLUGINS: readonly Plugin[] = [gitPlugin, s3Plugin, azurePlugin, dockerPlugin];
