// The parts of plugins/docker that are rules rather than talk with a daemon: Prefect's default
// tag, the generated Dockerfile, image name parsing, sizes and container names.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BaseJobTemplate,
  baseJobTemplateProblems,
  defaultBaseJobTemplate,
  jobVariableProblems,
} from "../../core/infra/index.ts";
import { type ContextEntry, tarStream } from "../../plugins/docker/context.ts";
import { registryOf, splitTag } from "../../plugins/docker/images.ts";
import { containerName, dockerInfrastructure, sizeBytes } from "../../plugins/docker/infrastructure.ts";
import { autoDockerfile, defaultTag } from "../../plugins/docker/steps.ts";

describe("defaultTag()", () => {
  test("is Prefect's slug of the UTC time (its test vector)", () => {
    expect(defaultTag(new Date("2022-08-31T18:01:32Z"))).toBe("2022-08-31t18-01-32-00-00");
  });
  test("keeps sub-seconds as Python's microseconds", () => {
    expect(defaultTag(new Date("2024-05-01T12:00:00.123Z"))).toBe("2024-05-01t12-00-00-123000-00-00");
  });
});

describe("autoDockerfile()", () => {
  test("starts FROM the runtime image and puts the project under /opt/weir/<folder>", () => {
    expect(autoDockerfile("weir-runtime:1.0.0", "flows", null)).toBe(
      "FROM weir-runtime:1.0.0\nCOPY . /opt/weir/flows/\nWORKDIR /opt/weir/flows/\n",
    );
  });
  test("installs dependencies in a layer of their own before the code", () => {
    expect(autoDockerfile("b:1", "p", ["package.json", "bun.lock"]).split("\n")).toEqual([
      "FROM b:1",
      "COPY package.json bun.lock /opt/weir/p/",
      "WORKDIR /opt/weir/p",
      'RUN ["weir", "install-deps"]',
      "COPY . /opt/weir/p/",
      "WORKDIR /opt/weir/p/",
      "",
    ]);
  });
  test("local dependencies (file:) are installed after the whole project is in", () => {
    expect(autoDockerfile("b:1", "p", []).trim().split("\n").at(-1)).toBe('RUN ["weir", "install-deps"]');
  });
});

describe("image names", () => {
  test("the registry is the first part when it is a host, else Docker Hub", () => {
    expect(registryOf("127.0.0.1:5000/team/flows")).toBe("127.0.0.1:5000");
    expect(registryOf("ghcr.io/acme/flows")).toBe("ghcr.io");
    expect(registryOf("localhost/flows")).toBe("localhost");
    expect(registryOf("acme/flows")).toBe("docker.io");
    expect(registryOf("flows")).toBe("docker.io");
  });
  test("a port's colon is not a tag's", () => {
    expect(splitTag("127.0.0.1:5000/flows")).toEqual({ name: "127.0.0.1:5000/flows", tag: undefined });
    expect(splitTag("127.0.0.1:5000/flows:v2")).toEqual({ name: "127.0.0.1:5000/flows", tag: "v2" });
    expect(splitTag("flows@sha256:abc")).toEqual({ name: "flows", tag: undefined });
  });
});

describe("docker job variables", () => {
  test("sizes take docker-py's units", () => {
    expect(sizeBytes("100000b")).toBe(100000);
    expect(sizeBytes("1000k")).toBe(1024000);
    expect(sizeBytes("128m")).toBe(128 * 1024 ** 2);
    expect(sizeBytes("1g")).toBe(1024 ** 3);
    expect(sizeBytes(4096)).toBe(4096);
  });
  test("container names are Prefect's slug of the run's name", () => {
    expect(containerName("fuzzy-yak")).toBe("fuzzy-yak");
    expect(containerName("my flow/run #1")).toBe("my-flow-run-1");
    expect(containerName("__.-x")).toBe("x");
    expect(containerName("!!!")).toBeNull();
  });
});

describe("tarStream() (a build context)", () => {
  const entries = (dir: string): ContextEntry[] => [
    { name: "app/", dir: true },
    { name: "app/a.txt", data: "alpha\n" },
    { name: "app/big.bin", file: join(dir, "big.bin"), size: 3 * 1024 * 1024 },
    { name: "app/link", symlink: "a.txt" },
  ];
  const fixture = () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-tar-"));
    writeFileSync(join(dir, "big.bin"), Buffer.alloc(3 * 1024 * 1024, 7));
    return dir;
  };

  test("is a tar that tar itself reads, file contents included", async () => {
    const dir = fixture();
    try {
      const tar = join(dir, "context.tar");
      writeFileSync(tar, new Uint8Array(await new Response(tarStream(entries(dir))).arrayBuffer()));
      const list = Bun.spawnSync(["tar", "-tvf", tar]).stdout.toString();
      expect(list).toContain("app/a.txt");
      expect(list).toContain("app/link -> a.txt");
      expect(list).toMatch(/3145728 .*app\/big\.bin/);
      const a = Bun.spawnSync(["tar", "-xOf", tar, "app/a.txt"]).stdout.toString();
      expect(a).toBe("alpha\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a file that went away fails the stream with its error, and nothing else is raised", async () => {
    const dir = fixture();
    try {
      const gone = [...entries(dir), { name: "app/gone.txt", file: join(dir, "gone.txt"), size: 4 }];
      const failed = await new Response(tarStream(gone)).arrayBuffer().then(
        () => "finished",
        (err: Error) => err.message,
      );
      expect(failed).toContain("ENOENT");
      await Bun.sleep(50); // an unhandled rejection would land here and fail the test
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a reader may cancel after the first chunk with nothing thrown; an abort makes it fail", async () => {
    const dir = fixture();
    try {
      const reader = tarStream(entries(dir)).getReader();
      expect((await reader.read()).done).toBe(false);
      await reader.cancel(new Error("the daemon went away"));
      const aborted = new AbortController();
      aborted.abort(new Error("stopped by the test"));
      const failed = await new Response(tarStream(entries(dir), aborted.signal)).arrayBuffer().then(
        () => "finished",
        (err: Error) => err.message,
      );
      expect(failed).toBe("stopped by the test");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a docker pool's base job template", () => {
  const template = () => defaultBaseJobTemplate(dockerInfrastructure);
  const props = (t: BaseJobTemplate) => t.variables.properties as Record<string, Record<string, unknown>>;

  test("defaults its own schema or the infrastructure refuses are named where they are", () => {
    expect(baseJobTemplateProblems(template(), dockerInfrastructure)).toEqual([]);
    const enumWrong = template();
    props(enumWrong).image_pull_policy!.default = "Sometimes";
    expect(baseJobTemplateProblems(enumWrong, dockerInfrastructure)).toEqual([
      'variables.properties.image_pull_policy.default: job variable "image_pull_policy" must be one of "IfNotPresent", "Always", "Never" (got string "Sometimes")',
    ]);
    const sizeWrong = template();
    props(sizeWrong).mem_limit!.default = "lots";
    expect(baseJobTemplateProblems(sizeWrong, dockerInfrastructure)).toEqual([
      'variables.properties.mem_limit.default: job variable "mem_limit" must be a size such as 128m or 1g (got string "lots")',
    ]);
    // A placeholder default (a block) is checked when the run starts, once resolved.
    const held = template();
    props(held).registry_credentials!.default = "{{ weir.blocks.docker-registry-credentials.r }}";
    expect(baseJobTemplateProblems(held, dockerInfrastructure)).toEqual([]);
  });

  test("a wrong job variable says what it must be, not a type it already has", () => {
    const got = jobVariableProblems(template(), { volumes: ["/data"], mem_limit: true }, { partial: true });
    expect(got.map((p) => p.message)).toEqual([
      `job variable "volumes.0" must be HOST_PATH:CONTAINER_PATH (Invalid volume specification; expected 'path:container_path') (got string "/data")`,
      'job variable "mem_limit" must be number or string or null (got boolean true)',
    ]);
    // A template saved before the rule's words were kept says the pattern, and what the field is.
    const old = template();
    delete props(old).mem_limit!["x-weir-message"];
    const inner = (props(old).mem_limit!.anyOf as Record<string, unknown>[])[0]!.anyOf as Record<
      string,
      unknown
    >[];
    delete inner[1]!["x-weir-message"];
    expect(jobVariableProblems(old, { mem_limit: "lots" }, { partial: true }).map((p) => p.message)).toEqual([
      'job variable "mem_limit" must match the pattern ^\\d+(\\.\\d+)?\\s*[bkmg]?$ (got string "lots") — Most memory the container may use (128m, 1g)',
    ]);
    const image = jobVariableProblems(template(), { image: "Bad Image:name!!" }, { partial: true });
    expect(image.map((p) => p.message)).toEqual([
      'job variable "image" must be an image reference: [HOST[:PORT]/]NAME[:TAG], the name in lowercase (registry.example.com/team/flows:1.0) (got string "Bad Image:name!!")',
    ]);
  });
});
