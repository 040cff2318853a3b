export { type AppOptions, createApp } from "./app.ts";
export type { ApiContext } from "./context.ts";
export { Wakeups } from "./wakeups.ts";
