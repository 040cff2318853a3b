import type { Conn, Dialect } from "./conn.ts";
import * as ops from "./ops.ts";

type Bound<T> = {
  [K in keyof T]: T[K] extends (c: Conn, ...args: infer A) => infer R ? (...args: A) => R : never;
};

/**
 * The store: every operation on runs, deployments, schedules, pools, blocks, logs ..., bound to
 * one database of either dialect. Routes, the UI, the scheduler and the agent sweep use only
 * this; SQL stays inside core/store.
 */
/** Messages between the processes sharing one database (PostgreSQL's LISTEN/NOTIFY). */
export interface Notifications {
  notify(channel: string, payload: string): Promise<void>;
  /** Calls `on` for every message on the channel, from now until `unlisten()`. */
  listen(channel: string, on: (payload: string) => void): Promise<{ unlisten(): Promise<void> }>;
}

export interface Store extends Bound<typeof ops> {
  readonly url: string;
  readonly dialect: Dialect;
  /** Present when other servers may share the database and can be told of changes. */
  readonly notifications?: Notifications;
  /** Applies the migrations this database has not seen; returns their ids (none when up to date). */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

/** Binds every operation to a connection. */
export function bindStore(
  c: Conn,
  meta: {
    url: string;
    migrate: () => Promise<string[]>;
    close: () => Promise<void>;
    notifications?: Notifications;
  },
): Store {
  const store: Record<string, unknown> = { ...meta, dialect: c.dialect };
  for (const [name, op] of Object.entries(ops))
    store[name] = (...args: unknown[]) => (op as (c: Conn, ...a: unknown[]) => unknown)(c, ...args);
  return store as unknown as Store;
}
