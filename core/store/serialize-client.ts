import type { Client, Transaction } from "@libsql/client";

/**
 * Runs every statement and transaction of an embedded-file client one after another. The embedded
 * driver (bun:sqlite, see bun-sqlite-client.ts; libSQL's before it) has one connection and is
 * synchronous: unqueued, a statement would run inside whatever transaction another request has
 * open; and with a second connection, a statement waiting on a lock held by
 * an open transaction would block the thread that must finish that transaction. One queue per
 * process avoids that; other processes on the same file still wait through busy_timeout.
 */
export function serializeClient(client: Client): Client {
  let tail: Promise<void> = Promise.resolve();
  const lock = (): Promise<() => void> => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const acquired = tail.then(() => release);
    tail = tail.then(() => held);
    return acquired;
  };
  const wrapTx = (tx: Transaction, release: () => void): Transaction => {
    let released = false;
    const done = () => {
      if (!released) {
        released = true;
        release();
      }
    };
    return new Proxy(tx, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === "commit" || prop === "rollback") {
          return async () => {
            try {
              return await (value as () => Promise<void>).call(target);
            } finally {
              done();
            }
          };
        }
        if (prop === "close") {
          return () => {
            try {
              (value as () => void).call(target);
            } finally {
              done();
            }
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (
        prop === "execute" ||
        prop === "rows" ||
        prop === "batch" ||
        prop === "executeMultiple" ||
        prop === "migrate"
      ) {
        return async (...args: unknown[]) => {
          const release = await lock();
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            release();
          }
        };
      }
      if (prop === "transaction") {
        return async (...args: unknown[]) => {
          const release = await lock();
          try {
            const tx = await (value as (...a: unknown[]) => Promise<Transaction>).apply(target, args);
            return wrapTx(tx, release);
          } catch (err) {
            release();
            throw err;
          }
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
