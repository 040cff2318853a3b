import { textField } from "../../core/model/index.ts";
import { definePlugin } from "../../core/plugin/index.ts";

/**
 * Docker: for now its registry credentials block only; the build/push steps and the docker
 * infrastructure arrive with the docker plugin's issue (until then Weir names them as missing).
 */
export const dockerPlugin = definePlugin({
  name: "docker",
  steps: [],
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
