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
