import { INFRASTRUCTURE_BLOCK_FIELDS, textField } from "../../core/model/index.ts";
import { definePlugin } from "../../core/plugin/index.ts";
import { dockerInfrastructure } from "./infrastructure.ts";
import { buildDockerImage, pushDockerImage } from "./steps.ts";

/**
 * Docker: Prefect's build_docker_image / push_docker_image steps (under their names too), the
 * docker work pool type that runs each flow run in a container, and the blocks they take.
 */
export const dockerPlugin = definePlugin({
  name: "docker",
  steps: [buildDockerImage, pushDockerImage],
  provides: ["prefect-docker"],
  infrastructure: [dockerInfrastructure],
  blockTypes: [
    {
      slug: "docker-registry-credentials",
      name: "Docker Registry Credentials",
      description: "Log-in for a Docker registry",
      fields: {
        username: textField("user name", { required: true }),
        password: textField("password", { secret: true, required: true }),
        registry_url: textField("registry URL", { required: true }),
        reauth: { type: "boolean", description: "log in again even if logged in" },
      },
    },
    {
      slug: "docker-container",
      name: "Docker Container",
      description:
        "A Prefect 2 infrastructure block: runs in containers of this image (weir deployment build -ib docker-container/NAME; the deployment's pool must be a docker pool)",
      fields: {
        image: textField("the image runs start from (default: the Weir runtime image)"),
        image_pull_policy: textField("IF_NOT_PRESENT, ALWAYS or NEVER"),
        image_registry: textField("name of a docker-registry-credentials block used to pull the image"),
        ...INFRASTRUCTURE_BLOCK_FIELDS,
        networks: { type: "any", description: "networks to join (a list)" },
        network_mode: textField("network mode"),
        auto_remove: { type: "boolean", description: "remove the container when it ends" },
        volumes: { type: "any", description: "HOST_PATH:CONTAINER_PATH mounts (a list)" },
        mem_limit: textField("memory limit (128m, 1g)"),
        memswap_limit: textField("memory + swap limit"),
        privileged: { type: "boolean", description: "extended privileges" },
      },
    },
  ],
});
