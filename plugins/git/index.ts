import { registerStep } from "../../core/steps/index.ts";
import { gitClone } from "./git-clone.ts";

export function registerGit(): void {
  registerStep("weir.steps.git_clone", gitClone, [
    "prefect.deployments.steps.git_clone",
    "prefect.deployments.steps.pull.git_clone",
    "prefect.deployments.steps.git_clone_project",
    "prefect.projects.steps.git_clone_project",
  ]);
}
