import type { Command } from "@commander-js/extra-typings";

export function register(program: Command): void {
  program
    .command("completion")
    .description('Print a shell completion script: eval "$(weir completion bash)"')
    .argument("<shell>", "bash, zsh or fish")
    .action(async (shell) => {
      const { completionScript } = await import("./lib/completion-script.ts");
      process.stdout.write(await completionScript(shell));
    });
}
