export { DEFAULT_API_URL, WeirClient } from "./client.ts";
export { untilAnswered } from "./retry.ts";
