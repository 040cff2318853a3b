import { describe, expect, test } from "bun:test";
import { parseStorageRef, storagePullSteps, storageUpload } from "../../core/project/index.ts";

describe("Prefect 2 storage blocks as steps", () => {
  test("s3: bucket_path plus the sub-path; credentials read from the block at run time", () => {
    expect(storagePullSteps("s3", "code", { bucket_path: "flows/team" }, "v1")).toEqual([
      {
        "weir.steps.pull_from_s3": {
          bucket: "flows",
          folder: "team/v1",
          credentials: "{{ weir.blocks.s3.code }}",
        },
      },
    ]);
    expect(
      storageUpload("s3", { bucket_path: "flows", aws_access_key_id: "k", aws_secret_access_key: "s" }, ""),
    ).toEqual({
      step: {
        "weir.steps.push_to_s3": {
          bucket: "flows",
          folder: "",
          credentials: { aws_access_key_id: "k", aws_secret_access_key: "s", endpoint_url: undefined },
        },
      },
    });
  });

  test("remote-file-system: s3:// basepaths, with its s3fs settings as credentials; other schemes named", () => {
    expect(
      storagePullSteps("remote-file-system", "rfs", { basepath: "s3://b/p", settings: { key: "k" } }, ""),
    ).toEqual([
      {
        "weir.steps.pull_from_s3": {
          bucket: "b",
          folder: "p",
          credentials: "{{ weir.blocks.remote-file-system.rfs.settings }}",
        },
      },
    ]);
    expect(() => storagePullSteps("remote-file-system", "rfs", { basepath: "gcs://b/p" }, "")).toThrow(
      'remote-file-system/rfs: basepath "gcs://b/p" is not an s3:// location (other schemes are not supported yet)',
    );
  });

  test("local-file-system: runs start in the folder; build copies into it", () => {
    expect(storagePullSteps("local-file-system", "nfs", { basepath: "/mnt/code" }, "etl")).toEqual([
      { "weir.steps.set_working_directory": { directory: "/mnt/code/etl" } },
    ]);
    expect(storageUpload("local-file-system", { basepath: "/mnt/code" }, "etl")).toEqual({
      copyTo: "/mnt/code/etl",
    });
  });

  test("other types and malformed references say what is supported", () => {
    expect(() => storagePullSteps("azure", "x", {}, "")).toThrow(
      'storage block type "azure" is not supported yet (supported: s3, remote-file-system, local-file-system, github)',
    );
    expect(parseStorageRef("s3/code/a/b")).toEqual({ type: "s3", name: "code", sub: "a/b" });
    expect(() => parseStorageRef("s3")).toThrow("must be TYPE/NAME or TYPE/NAME/path");
  });
});
