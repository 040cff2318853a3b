import { describe, expect, test } from "bun:test";
import {
  baseJobTemplateProblems,
  defaultBaseJobTemplate,
  jobConfiguration,
  jobVariableProblems,
  mergeJobVariables,
  processInfrastructure,
} from "../../core/infra/index.ts";

const template = defaultBaseJobTemplate(processInfrastructure);

describe("the process pool's default base job template", () => {
  test("has Prefect's shape: every variable placed into the field of its name", () => {
    expect(template.job_configuration).toEqual({
      name: "{{ name }}",
      env: "{{ env }}",
      labels: "{{ labels }}",
      command: "{{ command }}",
      stream_output: "{{ stream_output }}",
      working_dir: "{{ working_dir }}",
    });
    expect(template.variables.type).toBe("object");
    expect(template.variables.properties?.stream_output?.default).toBe(true);
    expect(template.variables.properties?.working_dir?.title).toBe("Working Directory");
    expect(template.variables).not.toHaveProperty("$schema");
  });
});

describe("mergeJobVariables()", () => {
  test("later layers win; env merges name by name", () => {
    expect(
      mergeJobVariables(
        { env: { A: "pool", B: "pool" }, stream_output: true },
        { env: { B: "deployment" }, working_dir: "/srv" },
        { env: { C: "run" }, stream_output: false },
      ),
    ).toEqual({ env: { A: "pool", B: "deployment", C: "run" }, stream_output: false, working_dir: "/srv" });
  });

  test("dotted keys (env.FOO) become the nested form, which wins over them", () => {
    expect(mergeJobVariables({ env: { A: "1" } }, { "env.B": "2", "env.A": "x" })).toEqual({
      env: { A: "x", B: "2" },
    });
    expect(mergeJobVariables({ "env.A": "dotted", env: { A: "nested" } })).toEqual({ env: { A: "nested" } });
  });
});

describe("jobVariableProblems()", () => {
  test("an unknown name is named with the known ones", () => {
    const [p] = jobVariableProblems(template, { workdir: "/tmp" });
    expect(p?.message).toContain('unknown job variable "workdir"');
    expect(p?.message).toContain("working_dir");
  });

  test("a wrong type names the variable and what it takes", () => {
    const problems = jobVariableProblems(template, { stream_output: "yes" }).map((p) => p.message);
    expect(problems).toEqual(['job variable "stream_output" must be boolean (got string "yes")']);
  });

  test("values still holding a placeholder are checked when the run starts, not now", () => {
    expect(jobVariableProblems(template, { env: "{{ weir.blocks.json.env }}" })).toEqual([]);
  });

  test("a template default holding a block placeholder is left for the run, also under a run's overrides", () => {
    const withBlock = structuredClone(template);
    withBlock.variables.properties!.env!.default = "{{ weir.blocks.json.pool-env }}";
    expect(jobVariableProblems(withBlock, { stream_output: false })).toEqual([]);
  });

  test("a required variable is missing only for a run, not for a deployment", () => {
    const strict = {
      ...template,
      variables: { ...template.variables, required: ["working_dir"] },
    };
    expect(jobVariableProblems(strict, {}, { partial: true })).toEqual([]);
    expect(jobVariableProblems(strict, {}).map((p) => p.message)[0]).toContain(
      'missing required job variable "working_dir"',
    );
  });
});

describe("jobConfiguration()", () => {
  test("defaults, then the run's variables, placed with their types; unset fields are dropped", () => {
    expect(jobConfiguration(template, { env: { A: 1 } })).toEqual({
      env: { A: 1 },
      labels: {},
      stream_output: true,
    });
  });

  test("a custom template can fix a field and place variables inside text", () => {
    const custom = {
      job_configuration: { working_dir: "/srv/{{ team }}", stream_output: false },
      variables: { type: "object", properties: { team: { type: "string", default: "data" } } },
    };
    expect(jobConfiguration(custom, {})).toEqual({ working_dir: "/srv/data", stream_output: false });
    expect(jobConfiguration(custom, { team: "ml" })).toEqual({
      working_dir: "/srv/ml",
      stream_output: false,
    });
  });
});

describe("baseJobTemplateProblems()", () => {
  test("names a wrong shape and fields the infrastructure does not have", () => {
    expect(baseJobTemplateProblems([], processInfrastructure)).toEqual([
      "a base job template must be an object with job_configuration and variables",
    ]);
    const problems = baseJobTemplateProblems(
      { job_configuration: { image: "{{ image }}" }, variables: { type: "array" }, extra: 1 },
      processInfrastructure,
    );
    expect(problems).toContain(
      'unknown field "extra" (a base job template has job_configuration and variables)',
    );
    expect(problems).toContain('variables.type must be "object" (got "array")');
    expect(problems.some((p) => p.startsWith("job_configuration.image is not a setting of process"))).toBe(
      true,
    );
  });

  test("a placeholder in job_configuration must name one of its variables", () => {
    const problems = baseJobTemplateProblems(
      { ...template, job_configuration: { ...template.job_configuration, working_dir: "{{ wokring_dir }}" } },
      processInfrastructure,
    );
    expect(problems).toEqual([
      'job_configuration uses {{ wokring_dir }}, which is not one of its variables (did you mean "working_dir"?): declare it under variables.properties, or fix the name',
    ]);
  });

  test("the default template has none", () => {
    expect(baseJobTemplateProblems(template, processInfrastructure)).toEqual([]);
  });
});
