// Prefect 2 infrastructure blocks read as job variables of the pool type they run on.
import { describe, expect, test } from "bun:test";
import { legacyInfrastructure } from "../../core/project/legacy.ts";

describe("legacyInfrastructure()", () => {
  test("a docker-container's image_registry names a credentials block, or is a placeholder already", () => {
    const named = legacyInfrastructure("d.yaml", {
      type: "docker-container",
      image: "x:1",
      image_registry: "reg",
    });
    expect(named.jobVariables).toEqual({
      image: "x:1",
      registry_credentials: "{{ weir.blocks.docker-registry-credentials.reg }}",
    });
    const placeholder = legacyInfrastructure("d.yaml", {
      type: "docker-container",
      image_registry: "{{ weir.blocks.docker-registry-credentials.registry }}",
    });
    expect(placeholder.jobVariables.registry_credentials).toBe(
      "{{ weir.blocks.docker-registry-credentials.registry }}",
    );
  });
});
