// A database whose disk is full: requests get a 503 that says so, not an internal error.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { tempStore } from "../helpers.ts";

let store: Awaited<ReturnType<typeof tempStore>>;
beforeAll(async () => {
  store = await tempStore();
});
afterAll(() => store.dispose());

/** The answer to GET /api/flows from the store as it is, but with listing flows failing with `err`. */
async function answerWhenFailing(err: unknown): Promise<Response> {
  const failing = new Proxy(store, {
    get: (target, key, receiver) =>
      key === "listFlows" ? () => Promise.reject(err) : Reflect.get(target, key, receiver),
  });
  return createApp({ store: failing, wakeups: new Wakeups(), version: "test" }).request("/api/flows");
}

test.each([
  ["SQLite", Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" })],
  [
    "PostgreSQL",
    Object.assign(new Error("could not extend file: No space left on device"), { code: "53100" }),
  ],
])("%s's disk-full error is a 503 naming the disk", async (_name, full) => {
  // Every flow listing fails as a full disk makes writes fail.
  const res = await answerWhenFailing(full);
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("2");
  expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
    "The database's disk is full: nothing was written; free space where the database is, then try again",
  );
});

test.each([
  ["a deadlock", Object.assign(new Error("deadlock detected"), { errno: "40P01" })],
  ["a serialization failure", Object.assign(new Error("could not serialize access"), { errno: "40001" })],
])("PostgreSQL's %s between two servers is a 503 to send again, not a 500", async (_name, clash) => {
  const res = await answerWhenFailing(clash);
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("5");
  expect(((await res.json()) as { error: { message: string } }).error.message).toContain("send it again");
});
