import { resolve } from "node:path";
import * as v from "valibot";
import { WeirError } from "../../core/model/index.ts";
import { defineStep, type StepContext } from "../../core/plugin/index.ts";
import {
  bytes,
  describeUpload,
  ignoreFileFor,
  objectKey,
  projectFiles,
  saveUnder,
} from "../../core/steps/index.ts";
import { describeS3Error, inParallel, listAll, type S3Target, s3Target, withRetries } from "./client.ts";

/** Parts of a multipart upload; also what a multipart ETag is computed from. */
const PART_SIZE = 16 * 1024 * 1024;
/** Files moved at once. */
const CONCURRENCY = 8;

const bucket = v.pipe(
  v.string("must be the bucket's name"),
  v.minLength(1, "must not be empty (the bucket to use)"),
);
// Required in a file, as in Prefect (requiredAtDeploy; a step stored without it by an earlier
// version still runs): a pull without it would fetch the whole bucket (every other
// project's code); "" says that is meant.
const folder = v.optional(
  v.string('must be a folder (key prefix) in the bucket, such as my-project ("" for the whole bucket)'),
  "",
);
const credentials = v.nullish(
  v.record(
    v.string(),
    v.unknown(),
    "must be a credentials block, such as {{ weir.blocks.aws-credentials.NAME }}",
  ),
);
const clientParameters = v.nullish(
  v.record(v.string(), v.unknown(), "must be a mapping such as { endpoint_url: http://minio:9000 }"),
);

/** The MD5 of a file read as a stream, whole and as S3 computes it for a multipart upload. */
async function md5s(path: string, size: number): Promise<{ whole: string; multipart: string | null }> {
  const whole = new Bun.CryptoHasher("md5");
  const parts: Uint8Array[] = [];
  let part = new Bun.CryptoHasher("md5");
  let inPart = 0;
  for await (const chunk of Bun.file(path).stream()) {
    whole.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, PART_SIZE - inPart);
      part.update(chunk.subarray(offset, offset + take));
      inPart += take;
      offset += take;
      if (inPart === PART_SIZE) {
        parts.push(part.digest());
        part = new Bun.CryptoHasher("md5");
        inPart = 0;
      }
    }
  }
  if (inPart > 0) parts.push(part.digest());
  const multipart =
    size > PART_SIZE
      ? `${new Bun.CryptoHasher("md5").update(Buffer.concat(parts)).digest("hex")}-${parts.length}`
      : null;
  return { whole: whole.digest("hex"), multipart };
}

function target(
  ctx: StepContext,
  args: {
    bucket: string;
    credentials?: Record<string, unknown> | null;
    client_parameters?: Record<string, unknown> | null;
  },
): S3Target {
  return s3Target(args.bucket, args.credentials, args.client_parameters, ctx.env);
}

/**
 * Prefect's push_to_s3: uploads the project folder (the step's working directory) to
 * `s3://bucket/folder/`, leaving out what the ignore file lists. Objects already there with the
 * same size and content (ETag) are not sent again, so redeploying an unchanged project uploads
 * nothing. Files go up several at a time, streamed from disk, with retries. Output: bucket, folder.
 */
export const pushToS3 = defineStep({
  name: "weir.steps.push_to_s3",
  aliases: [
    "prefect_aws.deployments.steps.push_to_s3",
    "prefect_aws.projects.steps.push_to_s3",
    "prefect_aws.deployments.steps.push_project_to_s3",
  ],
  description: "upload the project folder to S3 (or any S3-compatible server)",
  requiredAtDeploy: ["folder"],
  args: v.strictObject({
    bucket,
    folder,
    credentials,
    client_parameters: clientParameters,
    ignore_file: v.nullish(v.string("must be the ignore file's name, such as .weirignore")),
  }),
  describe: (raw, cwd) =>
    describeUpload(cwd, raw.ignore_file, `s3://${String(raw.bucket ?? "?")}/${String(raw.folder ?? "")}`),
  async run(args, ctx) {
    const t = target(ctx, args);
    const ignoreFile = ignoreFileFor(ctx.cwd, args.ignore_file);
    if (args.ignore_file && !ignoreFile)
      ctx.log.warning(
        `ignore_file ${args.ignore_file} does not exist in ${ctx.cwd}: every file is uploaded (fix its name, or leave it out for .weirignore / .prefectignore)`,
      );
    const files = projectFiles(ctx.cwd, ignoreFile);
    let remote: Map<string, { size: number; etag: string }>;
    let paged = false;
    try {
      const prefix = args.folder.replace(/^\/+|\/+$/g, "");
      const listed = await listAll(t, prefix ? `${prefix}/` : "", ctx.signal);
      paged = listed.paged === true;
      remote = new Map(listed.map((o) => [o.key, o]));
    } catch (err) {
      if (ctx.signal.aborted) throw new WeirError("FAILED", "push_to_s3 was cancelled");
      throw describeS3Error(err, t, "listing");
    }
    // A listing of several pages may miss keys on servers whose pages are not in key order: a
    // file not seen there is looked up by itself before it is sent.
    const missing = paged ? files.filter((f) => !remote.has(objectKey(args.folder, f.rel))) : [];
    await inParallel(missing, CONCURRENCY, ctx.signal, async (f) => {
      const key = objectKey(args.folder, f.rel);
      const st = await withRetries(() => t.client.file(key).stat(), ctx.signal).catch(() => null);
      if (st) remote.set(key, { size: st.size, etag: st.etag.replaceAll('"', "") });
    });
    const todo: typeof files = [];
    for (const f of files) {
      const there = remote.get(objectKey(args.folder, f.rel));
      if (there && there.size === f.size) {
        const { whole, multipart } = await md5s(f.abs, f.size);
        if (there.etag === whole || there.etag === multipart) continue;
      }
      todo.push(f);
    }
    let sent = 0;
    try {
      await inParallel(todo, CONCURRENCY, ctx.signal, async (f) => {
        await withRetries(
          () =>
            t.client.write(objectKey(args.folder, f.rel), Bun.file(f.abs), {
              partSize: PART_SIZE,
              queueSize: 2,
              retry: 3,
            }),
          ctx.signal,
        );
        sent += f.size;
      });
    } catch (err) {
      if (ctx.signal.aborted) throw new WeirError("FAILED", "push_to_s3 was cancelled");
      throw describeS3Error(err, t, "uploading to");
    }
    const names = todo.length > 0 && todo.length <= 5 ? ` (${todo.map((f) => f.rel).join(", ")})` : "";
    ctx.log.info(
      `Uploaded ${todo.length} file(s)${names}, ${bytes(sent)}, to s3://${args.bucket}/${args.folder}; ${files.length - todo.length} already there unchanged${ignoreFile ? `; ${ignoreFile} applied` : ""}`,
    );
    return { bucket: args.bucket, folder: args.folder };
  },
});

/**
 * Prefect's pull_from_s3: downloads every object under `s3://bucket/folder/` into the working
 * directory (keys below the folder become paths; existing files are replaced). Downloads stream
 * to disk several at a time, with retries. Output: bucket, folder, directory.
 */
export const pullFromS3 = defineStep({
  name: "weir.steps.pull_from_s3",
  aliases: [
    "prefect_aws.deployments.steps.pull_from_s3",
    "prefect_aws.projects.steps.pull_from_s3",
    "prefect_aws.deployments.steps.pull_project_from_s3",
  ],
  description: "download a folder of an S3 bucket into the working directory",
  requiredAtDeploy: ["folder"],
  args: v.strictObject({ bucket, folder, credentials, client_parameters: clientParameters }),
  async run(args, ctx) {
    const t = target(ctx, args);
    const f = args.folder.replace(/^\/+|\/+$/g, "");
    const prefix = f ? `${f}/` : "";
    let objects: Awaited<ReturnType<typeof listAll>>;
    try {
      objects = (await listAll(t, prefix, ctx.signal)).filter((o) => !o.key.endsWith("/"));
    } catch (err) {
      if (ctx.signal.aborted) throw new WeirError("FAILED", "pull_from_s3 was cancelled");
      throw describeS3Error(err, t, "listing");
    }
    if (objects.length === 0) {
      throw new WeirError(
        "FAILED",
        `pull_from_s3: nothing under s3://${args.bucket}/${prefix} at ${t.endpoint} (was the project pushed there? check bucket and folder)`,
      );
    }
    const root = resolve(ctx.cwd);
    let received = 0;
    try {
      await inParallel(objects, CONCURRENCY, ctx.signal, async (o) => {
        await withRetries(
          () =>
            saveUnder(
              root,
              o.key.slice(prefix.length),
              () => t.client.file(o.key).stream(),
              `pull_from_s3: object key "${o.key}"`,
            ),
          ctx.signal,
        );
        received += o.size;
      });
    } catch (err) {
      if (err instanceof WeirError) throw err;
      if (ctx.signal.aborted) throw new WeirError("FAILED", "pull_from_s3 was cancelled");
      throw describeS3Error(err, t, "downloading from");
    }
    ctx.log.info(
      `Downloaded ${objects.length} file(s), ${bytes(received)}, from s3://${args.bucket}/${prefix} into ${root}`,
    );
    return { bucket: args.bucket, folder: args.folder, directory: root };
  },
});
