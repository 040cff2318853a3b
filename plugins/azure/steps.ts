import { resolve } from "node:path";
import * as v from "valibot";
import { WeirError } from "../../core/model/index.ts";
import { defineStep } from "../../core/plugin/index.ts";
import {
  bytes,
  describeUpload,
  ignoreFileFor,
  inParallel,
  objectKey,
  projectFiles,
  saveUnder,
  withRetries,
} from "../../core/steps/index.ts";
import { blobRequest, blobTarget, describeBlobError, listBlobs, retryableBlob } from "./blob-client.ts";

const CONCURRENCY = 8;

const container = v.pipe(
  v.string("must be the container's name"),
  v.minLength(1, "must not be empty (the container to use)"),
);
// Required in a file, as in Prefect (requiredAtDeploy; a step stored without it by an earlier
// version still runs): a pull without it would fetch the whole container; "" says that is meant.
const folder = v.optional(
  v.string(
    'must be a folder (name prefix) in the container, such as my-project ("" for the whole container)',
  ),
  "",
);
const credentials = v.record(
  v.string(),
  v.unknown(),
  "must be a credentials block, such as {{ weir.blocks.azure-blob-storage-credentials.NAME }}",
);

async function md5Base64(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("md5");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("base64");
}

/**
 * Prefect's push_to_azure_blob_storage: uploads the project folder to `container/folder/`,
 * leaving out what the ignore file lists; blobs already there with the same size and MD5 are not
 * sent again. Output: container, folder.
 */
export const pushToAzure = defineStep({
  name: "weir.steps.push_to_azure_blob_storage",
  aliases: [
    "prefect_azure.deployments.steps.push_to_azure_blob_storage",
    "prefect_azure.projects.steps.push_to_azure_blob_storage",
  ],
  description: "upload the project folder to an Azure Blob Storage container",
  requiredAtDeploy: ["folder"],
  args: v.strictObject({
    container,
    folder,
    credentials,
    ignore_file: v.nullish(v.string("must be the ignore file's name, such as .weirignore")),
  }),
  describe: (raw, cwd) =>
    describeUpload(
      cwd,
      raw.ignore_file,
      `container ${String(raw.container ?? "?")}/${String(raw.folder ?? "")}`,
    ),
  async run(args, ctx) {
    const t = blobTarget(args.container, args.credentials);
    const ignoreFile = ignoreFileFor(ctx.cwd, args.ignore_file);
    if (args.ignore_file && !ignoreFile)
      ctx.log.warning(
        `ignore_file ${args.ignore_file} does not exist in ${ctx.cwd}: every file is uploaded (fix its name, or leave it out for .weirignore / .prefectignore)`,
      );
    const files = projectFiles(ctx.cwd, ignoreFile);
    const prefix = args.folder.replace(/^\/+|\/+$/g, "");
    let remote: Map<string, { size: number; md5: string }>;
    try {
      remote = new Map((await listBlobs(t, prefix ? `${prefix}/` : "", ctx.signal)).map((b) => [b.name, b]));
    } catch (err) {
      if (ctx.signal.aborted) throw new WeirError("FAILED", "push_to_azure_blob_storage was cancelled");
      throw describeBlobError(err, t, "listing");
    }
    let sent = 0;
    let skipped = 0;
    try {
      await inParallel(files, CONCURRENCY, ctx.signal, async (f) => {
        const key = objectKey(args.folder, f.rel);
        const md5 = await md5Base64(f.abs);
        const there = remote.get(key);
        if (there && there.size === f.size && there.md5 === md5) {
          skipped++;
          return;
        }
        await withRetries(
          () =>
            blobRequest(
              t,
              "PUT",
              `${t.container}/${key}`,
              {},
              {
                headers: {
                  "x-ms-blob-type": "BlockBlob",
                  "x-ms-blob-content-md5": md5,
                  "Content-Length": String(f.size),
                  // set, and signed: fetch would otherwise add one from the file's name
                  "Content-Type": "application/octet-stream",
                },
                body: Bun.file(f.abs),
                signal: ctx.signal,
              },
            ),
          ctx.signal,
          retryableBlob,
        );
        sent += f.size;
      });
    } catch (err) {
      if (ctx.signal.aborted) throw new WeirError("FAILED", "push_to_azure_blob_storage was cancelled");
      throw describeBlobError(err, t, "uploading to");
    }
    ctx.log.info(
      `Uploaded ${files.length - skipped} file(s), ${bytes(sent)}, to container ${args.container}/${prefix}; ${skipped} already there unchanged`,
    );
    return { container: args.container, folder: args.folder };
  },
});

/**
 * Prefect's pull_from_azure_blob_storage: downloads every blob under `container/folder/` into the
 * working directory. Output: container, folder, directory.
 */
export const pullFromAzure = defineStep({
  name: "weir.steps.pull_from_azure_blob_storage",
  aliases: [
    "prefect_azure.deployments.steps.pull_from_azure_blob_storage",
    "prefect_azure.projects.steps.pull_from_azure_blob_storage",
  ],
  description: "download a folder of an Azure Blob Storage container into the working directory",
  requiredAtDeploy: ["folder"],
  args: v.strictObject({ container, folder, credentials }),
  async run(args, ctx) {
    const t = blobTarget(args.container, args.credentials);
    const f = args.folder.replace(/^\/+|\/+$/g, "");
    const prefix = f ? `${f}/` : "";
    let blobs: Awaited<ReturnType<typeof listBlobs>>;
    try {
      blobs = (await listBlobs(t, prefix, ctx.signal)).filter((b) => !b.name.endsWith("/"));
    } catch (err) {
      if (ctx.signal.aborted) throw new WeirError("FAILED", "pull_from_azure_blob_storage was cancelled");
      throw describeBlobError(err, t, "listing");
    }
    if (blobs.length === 0)
      throw new WeirError(
        "FAILED",
        `pull_from_azure_blob_storage: nothing under ${args.container}/${prefix} at ${t.where} (was the project pushed there? check container and folder)`,
      );
    const root = resolve(ctx.cwd);
    let received = 0;
    try {
      await inParallel(blobs, CONCURRENCY, ctx.signal, async (b) => {
        await withRetries(
          () =>
            saveUnder(
              root,
              b.name.slice(prefix.length),
              async () =>
                (await blobRequest(t, "GET", `${t.container}/${b.name}`, {}, { signal: ctx.signal })).body!,
              `pull_from_azure_blob_storage: blob "${b.name}"`,
            ),
          ctx.signal,
          retryableBlob,
        );
        received += b.size;
      });
    } catch (err) {
      if (err instanceof WeirError) throw err;
      if (ctx.signal.aborted) throw new WeirError("FAILED", "pull_from_azure_blob_storage was cancelled");
      throw describeBlobError(err, t, "downloading from");
    }
    ctx.log.info(
      `Downloaded ${blobs.length} file(s), ${bytes(received)}, from container ${args.container}/${prefix} into ${root}`,
    );
    return { container: args.container, folder: args.folder, directory: root };
  },
});
