export { DEFAULT_API_URL, shownAddress, WeirClient } from "./client.ts";
export { untilAnswered } from "./retry.ts";
