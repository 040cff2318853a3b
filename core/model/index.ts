export * from "./block-types.ts";
export * from "./did-you-mean.ts";
export * from "./errors.ts";
export * from "./parameters.ts";
export * from "./paths.ts";
export * from "./run-names.ts";
export { splitCommand } from "./split-command.ts";
export * from "./state.ts";
export * from "./types.ts";
