/**
 * Size and shape limits on what the API and the file loader accept. One bad request must not hurt
 * the server or the other deployments: every limit has a clear error that names it and the
 * setting (WEIR_*) that changes it.
 */
export interface Limits {
  /** Largest request body (WEIR_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Deepest nesting of arrays and objects in a JSON body or value (WEIR_MAX_JSON_DEPTH). */
  maxJsonDepth: number;
  /** Largest `parameters` of a deployment, schedule or run, as JSON (WEIR_MAX_PARAMETERS_BYTES). */
  maxParametersBytes: number;
  /** Largest `job_variables`, as JSON (WEIR_MAX_JOB_VARIABLES_BYTES). */
  maxJobVariablesBytes: number;
  /** Largest flow run result (the flow's return value), as JSON (WEIR_MAX_RESULT_BYTES). */
  maxResultBytes: number;
  /** Largest variable value, as JSON (WEIR_MAX_VARIABLE_BYTES). */
  maxVariableBytes: number;
  /** Largest block document, as JSON (WEIR_MAX_BLOCK_BYTES). */
  maxBlockBytes: number;
  /** Longest name of a flow, deployment, pool, queue, block, variable, tag... (WEIR_MAX_NAME_LENGTH). */
  maxNameLength: number;
  /** Longest free text: a description, a state message, a version (WEIR_MAX_TEXT_LENGTH). */
  maxTextLength: number;
  /** Longest log message, in characters (WEIR_MAX_LOG_MESSAGE_LENGTH). */
  maxLogMessageLength: number;
  /** Most log lines or task runs in one request (WEIR_MAX_BATCH). */
  maxBatch: number;
  /** Largest page a list returns (`limit` is 1 to this; WEIR_MAX_PAGE). */
  maxPage: number;
  /** Shortest interval a schedule may have, in seconds (WEIR_MIN_INTERVAL_SECONDS). */
  minIntervalSeconds: number;
  /** Longest one schedule's run times may take to compute, in ms (WEIR_SCHEDULE_TIME_BOX_MS). */
  scheduleTimeBoxMs: number;
  /** Largest project file (weir.yaml / prefect.yaml) the loader reads (WEIR_MAX_PROJECT_FILE_BYTES). */
  maxProjectFileBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxJsonDepth: 64,
  maxParametersBytes: 1024 * 1024,
  maxJobVariablesBytes: 1024 * 1024,
  maxVariableBytes: 1024 * 1024,
  maxResultBytes: 1024 * 1024,
  maxBlockBytes: 1024 * 1024,
  maxNameLength: 200,
  maxTextLength: 10_000,
  maxLogMessageLength: 64 * 1024,
  maxBatch: 5_000,
  maxPage: 1_000,
  minIntervalSeconds: 1,
  scheduleTimeBoxMs: 1000,
  maxProjectFileBytes: 4 * 1024 * 1024,
};

/** The WEIR_* variable of each limit, for messages that say how to change one. */
export const LIMIT_SETTINGS: Record<keyof Limits, string> = {
  maxBodyBytes: "WEIR_MAX_BODY_BYTES",
  maxJsonDepth: "WEIR_MAX_JSON_DEPTH",
  maxParametersBytes: "WEIR_MAX_PARAMETERS_BYTES",
  maxJobVariablesBytes: "WEIR_MAX_JOB_VARIABLES_BYTES",
  maxVariableBytes: "WEIR_MAX_VARIABLE_BYTES",
  maxResultBytes: "WEIR_MAX_RESULT_BYTES",
  maxBlockBytes: "WEIR_MAX_BLOCK_BYTES",
  maxNameLength: "WEIR_MAX_NAME_LENGTH",
  maxTextLength: "WEIR_MAX_TEXT_LENGTH",
  maxLogMessageLength: "WEIR_MAX_LOG_MESSAGE_LENGTH",
  maxBatch: "WEIR_MAX_BATCH",
  maxPage: "WEIR_MAX_PAGE",
  minIntervalSeconds: "WEIR_MIN_INTERVAL_SECONDS",
  scheduleTimeBoxMs: "WEIR_SCHEDULE_TIME_BOX_MS",
  maxProjectFileBytes: "WEIR_MAX_PROJECT_FILE_BYTES",
};

/** Allowed range of each limit's setting. */
export const LIMIT_RANGES: Record<keyof Limits, [number, number]> = {
  maxBodyBytes: [1024, 1024 * 1024 * 1024],
  maxJsonDepth: [8, 1000],
  maxParametersBytes: [1024, 256 * 1024 * 1024],
  maxJobVariablesBytes: [1024, 256 * 1024 * 1024],
  maxVariableBytes: [1024, 256 * 1024 * 1024],
  maxResultBytes: [1024, 256 * 1024 * 1024],
  maxBlockBytes: [1024, 256 * 1024 * 1024],
  maxNameLength: [16, 10_000],
  maxTextLength: [100, 10_000_000],
  maxLogMessageLength: [100, 10_000_000],
  maxBatch: [1, 1_000_000],
  maxPage: [10, 1_000_000],
  minIntervalSeconds: [0.001, 86_400],
  scheduleTimeBoxMs: [50, 600_000],
  maxProjectFileBytes: [1024, 1024 * 1024 * 1024],
};
