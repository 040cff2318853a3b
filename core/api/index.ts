export { type AppOptions, clientAddress, createApp, databaseDown, LOOPBACK_HOSTS } from "./app.ts";
export type { ApiContext } from "./context.ts";
export { Wakeups } from "./wakeups.ts";
