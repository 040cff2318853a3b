import { textField } from "../../core/model/index.ts";
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
  ],
});
