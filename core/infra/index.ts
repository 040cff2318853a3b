export { jobEnv, type LaunchOptions, launchProcess, type RunningProcess } from "./process.ts";
export { selfCommand } from "./self-command.ts";
