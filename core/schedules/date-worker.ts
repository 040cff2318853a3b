// The thread that expands RRULE schedules (see DateExpander): when one takes too long, the thread
// is ended from outside, and the process that asked stays responsive.
import { describeError } from "../model/index.ts";
import { type DateJob, runDateJob } from "./date-job.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ id: number; job: DateJob }>) => {
  const { id, job } = e.data;
  try {
    postMessage({ id, dates: runDateJob(job) });
  } catch (err) {
    postMessage({ id, error: describeError(err) });
  }
};
