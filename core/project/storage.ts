import { join } from "node:path";
import { WeirError } from "../model/index.ts";

// Prefect 2's storage blocks (`deployment build -sb TYPE/NAME[/path]`) in terms of steps: where
// `build` uploads the code, and the pull steps each run starts with. Blocks are named by
// placeholder in pull steps, so their secrets are read where the run happens, never stored.

export const STORAGE_TYPES = ["s3", "remote-file-system", "local-file-system", "github"] as const;

const text = (x: unknown) => (typeof x === "string" ? x : "");
const joinKey = (...parts: string[]) =>
  parts
    .map((p) => p.replace(/^\/+|\/+$/g, ""))
    .filter(Boolean)
    .join("/");

/** bucket and folder of an "s3://bucket/path" or "bucket/path" location, plus a sub-path. */
function bucketAndFolder(location: string, sub: string): { bucket: string; folder: string } {
  const [bucket = "", ...rest] = location.replace(/^s3:\/\//, "").split("/");
  if (!bucket)
    throw new WeirError("INVALID", `storage location "${location}" names no bucket (write bucket/path)`);
  return { bucket, folder: joinKey(rest.join("/"), sub) };
}

function unsupported(type: string): WeirError {
  return new WeirError(
    "INVALID",
    `storage block type "${type}" is not supported yet (supported: ${STORAGE_TYPES.join(", ")}); keep the code where agents can read it, or use a weir.yaml with pull steps (git_clone, pull_from_s3)`,
  );
}

/** The pull steps a run of code kept in this storage block starts with. */
export function storagePullSteps(
  type: string,
  name: string,
  fields: Record<string, unknown>,
  sub: string,
): Record<string, unknown>[] {
  const block = (path = "") => `{{ weir.blocks.${type}.${name}${path} }}`;
  switch (type) {
    case "s3":
      return [
        {
          "weir.steps.pull_from_s3": {
            ...bucketAndFolder(text(fields.bucket_path), sub),
            credentials: block(),
          },
        },
      ];
    case "remote-file-system": {
      const basepath = text(fields.basepath);
      if (!basepath.startsWith("s3://"))
        throw new WeirError(
          "INVALID",
          `remote-file-system/${name}: basepath "${basepath}" is not an s3:// location (other schemes are not supported yet)`,
        );
      return [
        {
          "weir.steps.pull_from_s3": {
            ...bucketAndFolder(basepath, sub),
            ...(fields.settings ? { credentials: block(".settings") } : {}),
          },
        },
      ];
    }
    case "local-file-system":
      return [{ "weir.steps.set_working_directory": { directory: join(text(fields.basepath), sub) } }];
    case "github":
      return [
        {
          "weir.steps.git_clone": {
            id: "storage",
            repository: text(fields.repository),
            ...(fields.reference ? { branch: text(fields.reference) } : {}),
            ...(fields.access_token ? { access_token: block(".access_token") } : {}),
          },
        },
        ...(sub
          ? [{ "weir.steps.set_working_directory": { directory: `{{ storage.directory }}/${sub}` } }]
          : []),
      ];
    default:
      throw unsupported(type);
  }
}

/**
 * How `build` puts the code into the storage block: a push step (given the block's data with its
 * secrets), a folder to copy into, or nothing (code that lives in git).
 */
export function storageUpload(
  type: string,
  data: Record<string, unknown>,
  sub: string,
): { step: Record<string, unknown> } | { copyTo: string } | null {
  switch (type) {
    case "s3":
      return {
        step: {
          "weir.steps.push_to_s3": {
            ...bucketAndFolder(text(data.bucket_path), sub),
            credentials: {
              aws_access_key_id: data.aws_access_key_id,
              aws_secret_access_key: data.aws_secret_access_key,
              endpoint_url: data.endpoint_url,
            },
          },
        },
      };
    case "remote-file-system":
      return {
        step: {
          "weir.steps.push_to_s3": {
            ...bucketAndFolder(text(data.basepath), sub),
            credentials: (data.settings ?? null) as Record<string, unknown> | null,
          },
        },
      };
    case "local-file-system":
      return { copyTo: join(text(data.basepath), sub) };
    case "github":
      return null;
    default:
      throw unsupported(type);
  }
}

/** "TYPE/NAME[/sub/path]" as given to -sb. */
export function parseStorageRef(ref: string): { type: string; name: string; sub: string } {
  const [type = "", name = "", ...rest] = ref.split("/");
  if (!type || !name)
    throw new WeirError(
      "USAGE",
      `--storage-block "${ref}" must be TYPE/NAME or TYPE/NAME/path (for example s3/my-bucket-block/flows)`,
    );
  return { type, name, sub: rest.join("/") };
}
