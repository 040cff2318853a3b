import * as v from "valibot";
import { flow, task } from "weir";

const greet = task({ name: "greet" }, async (name: string) => `hello ${name}`);

export const hello = flow(
  { name: "hello", params: v.object({ name: v.string(), times: v.optional(v.number(), 1) }) },
  async ({ name, times }, { log }) => {
    for (let i = 0; i < times; i++) log.info(await greet(name));
    return { ok: true };
  },
);
