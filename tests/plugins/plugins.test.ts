// Every plugin of the build, including Weir's built-in steps, runs the step contract.
import { afterAll } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { corePlugin } from "../../core/steps/index.ts";
import { azurePlugin } from "../../plugins/azure/index.ts";
import { dockerPlugin } from "../../plugins/docker/index.ts";
import { gitPlugin } from "../../plugins/git/index.ts";
import { s3Plugin } from "../../plugins/s3/index.ts";
import { silentServer, stepContract } from "./step-contract.ts";

const hanging = silentServer();
afterAll(() => hanging.stop());

stepContract(corePlugin, {
  "weir.steps.set_working_directory": {
    failing: () => ({ args: { directory: "/nonexistent/SECRET-dir-4711" }, secret: "SECRET-dir-4711" }),
  },
  "weir.steps.run_shell_script": {
    failing: () => ({
      args: { script: "sh -c 'echo token=SECRET-sh-4711; echo SECRET-sh-4711 >&2; exit 3'" },
      secret: "SECRET-sh-4711",
    }),
    slow: () => ({ script: "sleep 30" }),
  },
  "weir.steps.install_dependencies": {
    failing: () => ({ args: { directory: "SECRET-deps-4711" }, secret: "SECRET-deps-4711" }),
  },
  "weir.steps.pip_install_requirements": {
    failing: () => ({ args: { requirements_file: "SECRET-req-4711.txt" }, secret: "SECRET-req-4711" }),
  },
});

stepContract(gitPlugin, {
  "weir.steps.git_clone": {
    failing: () => ({
      args: { repository: "https://127.0.0.1:9/acme/flows.git", access_token: "SECRET-git-4711" },
      secret: "SECRET-git-4711",
    }),
    slow: () => ({ repository: `${hanging.url}/acme/flows.git` }),
  },
});

const hangingCreds = (secret: string) => ({
  aws_access_key_id: "KEY",
  aws_secret_access_key: secret,
  aws_client_parameters: { endpoint_url: hanging.url },
});
const refusedCreds = (secret: string) => ({
  aws_access_key_id: "KEY",
  aws_secret_access_key: secret,
  aws_client_parameters: { endpoint_url: "http://127.0.0.1:9" },
});

stepContract(s3Plugin, {
  "weir.steps.push_to_s3": {
    failing: () => ({
      args: { bucket: "flows", folder: "p", credentials: refusedCreds("SECRET-s3-4711") },
      secret: "SECRET-s3-4711",
    }),
    slow: () => ({ bucket: "flows", folder: "p", credentials: hangingCreds("x") }),
  },
  "weir.steps.pull_from_s3": {
    failing: () => ({
      args: { bucket: "flows", folder: "p", credentials: refusedCreds("SECRET-s3-4712") },
      secret: "SECRET-s3-4712",
    }),
    slow: () => ({ bucket: "flows", folder: "p", credentials: hangingCreds("x") }),
  },
});

const azureCreds = (endpoint: string, key: string) => ({
  connection_string: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${Buffer.from(key).toString("base64")};BlobEndpoint=${endpoint}/acct;`,
});
const azureSecret = Buffer.from("SECRET-az-4711").toString("base64");

stepContract(azurePlugin, {
  "weir.steps.push_to_azure_blob_storage": {
    failing: () => ({
      args: {
        container: "flows",
        folder: "p",
        credentials: azureCreds("http://127.0.0.1:9", "SECRET-az-4711"),
      },
      secret: azureSecret,
    }),
    slow: () => ({ container: "flows", folder: "p", credentials: azureCreds(hanging.url, "x") }),
  },
  "weir.steps.pull_from_azure_blob_storage": {
    failing: () => ({
      args: {
        container: "flows",
        folder: "p",
        credentials: azureCreds("http://127.0.0.1:9", "SECRET-az-4711"),
      },
      secret: azureSecret,
    }),
    slow: () => ({ container: "flows", folder: "p", credentials: azureCreds(hanging.url, "x") }),
  },
});

// Nothing listens on port 9 of loopback: the daemon is refused at once, while the step holds the password.
const noDaemon = { DOCKER_HOST: "tcp://127.0.0.1:9" };
const registryCreds = { username: "ci", password: "SECRET-docker-4711", registry_url: "127.0.0.1:5000" };

stepContract(dockerPlugin, {
  "weir.steps.build_docker_image": {
    failing: (dir) => {
      writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
      return {
        args: { image_name: "127.0.0.1:5000/flows", tag: "v1", credentials: registryCreds },
        secret: "SECRET-docker-4711",
        env: noDaemon,
      };
    },
    slow: (dir) => {
      writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
      return { image_name: "flows", tag: "v1" };
    },
    slowEnv: { DOCKER_HOST: hanging.url.replace("http://", "tcp://") },
  },
  "weir.steps.push_docker_image": {
    failing: () => ({
      args: { image_name: "127.0.0.1:5000/flows", tag: "v1", credentials: registryCreds },
      secret: "SECRET-docker-4711",
      env: noDaemon,
    }),
    slow: () => ({ image_name: "flows", tag: "v1" }),
    slowEnv: { DOCKER_HOST: hanging.url.replace("http://", "tcp://") },
  },
});
