// A separate process running one scheduler pass on a shared database file (see the race test).
import { DEFAULT_SETTINGS, schedulePass } from "../../core/scheduler/index.ts";
import { openStore } from "../../core/store/index.ts";

const [file, now] = process.argv.slice(2);
const store = await openStore({ url: file!, poolSize: 2 });
const r = await schedulePass(store, DEFAULT_SETTINGS, { now: Number(now) });
await store.close();
console.log(r.created);
