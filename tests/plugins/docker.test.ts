// The parts of plugins/docker that are rules rather than talk with a daemon: Prefect's default
// tag, the generated Dockerfile, image name parsing, sizes and container names.
import { describe, expect, test } from "bun:test";
import { registryOf, splitTag } from "../../plugins/docker/images.ts";
import { containerName, sizeBytes } from "../../plugins/docker/infrastructure.ts";
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
