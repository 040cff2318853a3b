import type { Command } from "@commander-js/extra-typings";
import { collect } from "./lib/options.ts";

export function register(program: Command): void {
  program
    .command("init")
    .description("Write a weir.yaml (and .weirignore) for this folder from a recipe")
    .option("--name <name>", "project name (default: the folder's name)")
    .option("--recipe <recipe>", "local, git, docker, docker-git, s3 or docker-s3 (default: guessed)")
    .option("--field <key=value>", "a recipe field, so nothing is asked (repeatable)", collect)
    .action(async (opts) => {
      const { initProject } = await import("./lib/init-project.ts");
      await initProject(opts);
    });
}
