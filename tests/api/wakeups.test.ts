// Long polls (claims, /wait) look at the database, then wait for a wake-up. A wake-up that comes
// while they look must not be lost: the wait that follows returns at once.
import { describe, expect, test } from "bun:test";
import { Wakeups } from "../../core/api/wakeups.ts";

const settled = (p: Promise<void>) =>
  Promise.race([p.then(() => "woken"), new Promise<string>((r) => setTimeout(() => r("waiting"), 50))]);

describe("wake-ups", () => {
  test("a notify between mark() and wait() makes the wait return at once", async () => {
    const w = new Wakeups();
    const since = w.mark();
    w.notify("pool-a"); // while the claim was reading the database
    expect(await settled(w.wait("pool-a", 60_000, undefined, since))).toBe("woken");
  });

  test("an earlier notify, or one for another key, does not end a wait", async () => {
    const w = new Wakeups();
    w.notify("pool-a");
    const since = w.mark();
    w.notify("pool-b");
    const waiting = w.wait("pool-a", 60_000, undefined, since);
    expect(await settled(waiting)).toBe("waiting");
    w.notify("pool-a");
    expect(await settled(waiting)).toBe("woken");
  });

  test("without a mark a wait ends only on a notify that comes after it", async () => {
    const w = new Wakeups();
    w.notify("pool-a");
    const waiting = w.wait("pool-a", 60_000);
    expect(await settled(waiting)).toBe("waiting");
    w.notify("pool-a");
    expect(await settled(waiting)).toBe("woken");
  });
});
