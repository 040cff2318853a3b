import { basename } from "node:path";
import { WeirError } from "../model/index.ts";

// `weir init` recipes: the build/push/pull sections a new weir.yaml starts with, and the work
// pool its deployment runs in. Step names are Weir's (Prefect's resolve to the same steps).

export interface Recipe {
  name: string;
  description: string;
  /** Fields the recipe needs, with a default when one can be found. */
  fields: { name: string; prompt: string; default?: (ctx: RecipeContext) => string | undefined }[];
  sections: (
    f: Record<string, string>,
    ctx: RecipeContext,
  ) => { build: unknown[] | null; push: unknown[] | null; pull: unknown[] };
  /** The work pool its deployment names (default: "local", a process pool). */
  workPool?: { name: string; type: string; job_variables: Record<string, unknown> };
  /** Said after the file is written. */
  note?: string;
}

export interface RecipeContext {
  dir: string;
  projectName: string;
  gitRemote?: string;
  gitBranch?: string;
}

const dockerBuild = (f: Record<string, string>) => [
  {
    "weir.steps.build_docker_image": {
      id: "build-image",
      image_name: f.image_name,
      dockerfile: "auto",
    },
  },
];
const dockerPush = () => [
  {
    "weir.steps.push_docker_image": {
      image_name: "{{ build-image.image_name }}",
      tag: "{{ build-image.tag }}",
    },
  },
];
const gitPull = (f: Record<string, string>) => [
  { "weir.steps.git_clone": { repository: f.repository, branch: f.branch, access_token: null } },
];
const s3Push = (f: Record<string, string>) => [
  {
    "weir.steps.push_to_s3": {
      id: "push-code",
      bucket: f.bucket,
      folder: f.folder,
      credentials: `{{ weir.blocks.aws-credentials.${f.credentials} }}`,
    },
  },
];
const s3Pull = (f: Record<string, string>) => [
  {
    "weir.steps.pull_from_s3": {
      bucket: f.bucket,
      folder: "{{ push-code.folder }}",
      credentials: `{{ weir.blocks.aws-credentials.${f.credentials} }}`,
    },
  },
];

/** Docker recipes run in a docker pool, each run in a container of the image deploy built. */
const dockerPool = { name: "docker", type: "docker", job_variables: { image: "{{ build-image.image }}" } };

const repository = {
  name: "repository",
  prompt: "git repository URL",
  default: (c: RecipeContext) => c.gitRemote,
};
const branch = { name: "branch", prompt: "git branch", default: (c: RecipeContext) => c.gitBranch ?? "main" };
const imageName = { name: "image_name", prompt: "image name (e.g. my-registry/my-image)" };
const bucket = { name: "bucket", prompt: "S3 bucket" };
const credentials = {
  name: "credentials",
  prompt: "aws-credentials block with the S3 keys (weir block create aws-credentials NAME --field ...)",
  default: () => "default",
};
const folder = {
  name: "folder",
  prompt: "folder in the bucket",
  default: (c: RecipeContext) => c.projectName,
};

export const RECIPES: readonly Recipe[] = [
  {
    name: "local",
    description: "runs read the code from this folder on the agent's machine",
    fields: [],
    sections: (_f, c) => ({
      build: null,
      push: null,
      pull: [{ "weir.steps.set_working_directory": { directory: c.dir } }],
    }),
  },
  {
    name: "git",
    description: "each run clones the code from a git repository",
    fields: [repository, branch],
    sections: (f) => ({ build: null, push: null, pull: gitPull(f) }),
  },
  {
    name: "docker",
    description: "code baked into a Docker image that deploy builds and pushes",
    fields: [imageName],
    sections: (f, c) => ({
      build: dockerBuild(f),
      push: dockerPush(),
      pull: [{ "weir.steps.set_working_directory": { directory: `/opt/weir/${basename(c.dir)}` } }],
    }),
    workPool: dockerPool,
  },
  {
    name: "docker-git",
    description: "a Docker image for the environment, code cloned from git on each run",
    fields: [imageName, repository, branch],
    sections: (f) => ({ build: dockerBuild(f), push: dockerPush(), pull: gitPull(f) }),
    workPool: dockerPool,
    note: "git_clone runs inside the container, and the Weir runtime image has no git: build from a Dockerfile of your own whose image has git (dockerfile: Dockerfile)",
  },
  {
    name: "s3",
    description: "deploy uploads the code to S3, each run downloads it",
    fields: [bucket, folder, credentials],
    sections: (f) => ({ build: null, push: s3Push(f), pull: s3Pull(f) }),
  },
  {
    name: "docker-s3",
    description: "a Docker image for the environment, code uploaded to and downloaded from S3",
    fields: [imageName, bucket, folder, credentials],
    sections: (f) => ({ build: dockerBuild(f), push: [...dockerPush(), ...s3Push(f)], pull: s3Pull(f) }),
    workPool: dockerPool,
  },
];

export function recipe(name: string): Recipe {
  const r = RECIPES.find((x) => x.name === name);
  if (!r)
    throw new WeirError(
      "USAGE",
      `Unknown recipe "${name}" (use one of: ${RECIPES.map((x) => x.name).join(", ")})`,
    );
  return r;
}

export const DEFAULT_WEIRIGNORE = `# Files upload steps (push_to_s3, ...) leave out. gitignore syntax.
node_modules/
.git/
.weir/
dist/
*.log
.env
.env.*
*-deployment.yaml
`;
