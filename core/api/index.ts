export { type AppOptions, createApp, databaseDown } from "./app.ts";
export type { ApiContext } from "./context.ts";
export { Wakeups } from "./wakeups.ts";
