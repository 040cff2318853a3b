import type { Command } from "@commander-js/extra-typings";
import { WeirError } from "../../core/model/index.ts";

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

function walk(cmd: Command, path: string[], out: Node[]): void {
  const subs = cmd.commands as unknown as Command[];
  out.push({
    path,
    subcommands: subs.map((c) => c.name()),
    options: [
      ...cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))),
      "--help",
    ],
  });
  for (const c of subs) walk(c, [...path, c.name()], out);
}

/** Generates a completion script from the real command tree, so it always matches the CLI. */
export async function completionScript(shell: string): Promise<string> {
  const { fullProgram } = await import("../program.ts");
  const nodes: Node[] = [];
  walk((await fullProgram()) as unknown as Command, [], nodes);
  const key = (p: string[]) => p.join(" ");
  if (shell === "bash" || shell === "zsh") {
    const cases = nodes
      .map((n) => `    "${key(n.path)}") words_for="${[...n.subcommands, ...n.options].join(" ")}" ;;`)
      .join("\n");
    const body = `_weir_complete() {
  local cur path="" w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) local try="\${path:+$path }$w"; _weir_known "$try" && path="$try" ;; esac
  done
  _weir_words "$path"
  COMPREPLY=( $(compgen -W "$words_for" -- "$cur") )
}
_weir_known() { local words_for=""; _weir_words "$1"; [ -n "$words_for" ]; }
_weir_words() {
  words_for=""
  case "$1" in
${cases}
  esac
}
complete -F _weir_complete weir
`;
    return shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${body}` : body;
  }
  if (shell === "fish") {
    const lines = ["complete -c weir -f"];
    for (const n of nodes) {
      const cond =
        n.path.length === 0
          ? "__fish_use_subcommand"
          : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
      for (const s of n.subcommands) lines.push(`complete -c weir -n '${cond}' -a '${s}'`);
      for (const o of n.options.filter((x) => x.startsWith("--")))
        lines.push(`complete -c weir -n '${cond}' -l '${o.slice(2)}'`);
    }
    return `${lines.join("\n")}\n`;
  }
  throw new WeirError("USAGE", `Unknown shell "${shell}" (use bash, zsh or fish)`);
}
