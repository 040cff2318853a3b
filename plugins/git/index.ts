import { textField } from "../../core/model/index.ts";
import { definePlugin } from "../../core/plugin/index.ts";
import { gitClone } from "./git-clone.ts";

/** Git: the git_clone pull step and the credentials blocks of the big git hosts. */
export const gitPlugin = definePlugin({
  name: "git",
  steps: [gitClone],
  provides: [],
  blockTypes: [
    {
      slug: "github-credentials",
      name: "GitHub Credentials",
      description: "A token for private GitHub repositories",
      fields: { token: textField("personal access token", { secret: true, required: true }) },
    },
    {
      slug: "gitlab-credentials",
      name: "GitLab Credentials",
      description: "A token for private GitLab repositories",
      fields: {
        token: textField("personal or deploy token", { secret: true, required: true }),
        url: textField("GitLab URL (self-hosted)"),
      },
    },
    {
      slug: "github",
      name: "GitHub",
      description: "A Prefect 2 storage block: a repository to clone for each run",
      fields: {
        repository: textField("repository URL", { required: true }),
        reference: textField("branch or tag"),
        access_token: textField("token for a private repository", { secret: true }),
        include_git_objects: { type: "boolean", description: "keep the .git folder" },
      },
    },
    {
      slug: "bitbucket-credentials",
      name: "Bitbucket Credentials",
      description: "A token for private Bitbucket repositories",
      fields: {
        token: textField("app password or token", { secret: true, required: true }),
        username: textField("Bitbucket user name"),
      },
    },
  ],
});
