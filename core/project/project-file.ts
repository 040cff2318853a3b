import * as v from "valibot";

// What a person writes in weir.yaml / prefect.yaml (raw options). compileProject() turns it into
// the model deploy uses; the two are kept apart on purpose (see DESIGN.md, conventions 3 and 4).

// Each step's shape is checked by checkSteps(), which can say what is wrong with it.
const stepList = v.nullish(v.array(v.unknown(), "must be a list of steps"));
const record = v.record(v.string(), v.unknown());

export const WorkPoolSection = v.object({
  name: v.nullish(v.string()),
  work_queue_name: v.nullish(v.string()),
  job_variables: v.nullish(record),
});

export const DeploymentSection = v.object({
  name: v.pipe(
    v.string("must be a string"),
    v.minLength(1, "must not be empty"),
    v.regex(/^[^/]+$/, "must not contain '/'"),
  ),
  version: v.nullish(v.union([v.string(), v.number()], "must be a string")),
  description: v.nullish(v.string()),
  tags: v.nullish(
    v.array(
      v.string(
        "each tag must be a string (an alias of a list inside the tags list makes a nested list: list the tags themselves)",
      ),
      "must be a list of strings, such as [nightly, etl]",
    ),
  ),
  entrypoint: v.nullish(v.string("must be a string such as flows/hello.ts:hello")),
  parameters: v.nullish(v.record(v.string(), v.unknown(), "must be a mapping of parameter names to values")),
  enforce_parameter_schema: v.nullish(v.boolean()),
  paused: v.nullish(v.boolean()),
  work_pool: v.nullish(WorkPoolSection),
  schedule: v.nullish(v.unknown()),
  schedules: v.nullish(v.unknown()),
  triggers: v.nullish(
    v.array(
      v.record(v.string(), v.unknown(), "each trigger must be a mapping"),
      "must be a list of triggers",
    ),
  ),
  concurrency_limit: v.nullish(
    v.union(
      [
        v.pipe(v.number(), v.integer(), v.minValue(0)),
        v.strictObject({
          limit: v.pipe(v.number(), v.integer(), v.minValue(0)),
          collision_strategy: v.optional(v.picklist(["ENQUEUE", "CANCEL_NEW"])),
          // Prefect 3's slot lease; Weir's slots are the runs active now, so there is no lease.
          grace_period_seconds: v.optional(
            v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400)),
          ),
        }),
      ],
      "must be a whole number, or { limit: N, collision_strategy: ENQUEUE | CANCEL_NEW }",
    ),
  ),
  catchup: v.nullish(v.picklist(["all", "latest", "none"], 'must be one of "all", "latest", "none"')),
  /** Prefect's: the flow's name, checked against the entrypoint's flow. */
  flow_name: v.nullish(v.string()),
  /** Prefect 2's spelling of work_pool.work_queue_name. */
  work_queue_name: v.nullish(v.string()),
  is_schedule_active: v.nullish(v.boolean()),
  build: stepList,
  push: stepList,
  pull: stepList,
});

export const ProjectFile = v.object({
  name: v.nullish(v.string()),
  build: stepList,
  push: stepList,
  pull: stepList,
  deployments: v.nullish(v.array(DeploymentSection, "must be a list of deployments")),
});

export type DeploymentSection = v.InferOutput<typeof DeploymentSection>;
export type ProjectFile = v.InferOutput<typeof ProjectFile>;

/** Keys checked for typos; top-level keys outside this list are allowed (e.g. `definitions`). */
export const DEPLOYMENT_KEYS = Object.keys(DeploymentSection.entries);
export const WORK_POOL_KEYS = Object.keys(WorkPoolSection.entries);
export const TOP_LEVEL_KEYS = [
  ...Object.keys(ProjectFile.entries),
  "prefect-version",
  "weir-version",
  "definitions",
];
