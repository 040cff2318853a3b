import { S3Client } from "bun";
import { WeirError } from "../../core/model/index.ts";
import { withRetries as retry } from "../../core/steps/index.ts";

/**
 * The credentials and client parameters of Prefect's S3 steps, as a Bun S3 client. Credentials
 * come from an aws-credentials block (or minio-credentials: minio_root_user/password); client
 * parameters (endpoint_url, region_name...) from the block's aws_client_parameters or the step's
 * client_parameters. With an endpoint (MinIO, Ceph, any S3-compatible server) requests are
 * path-style.
 */
export interface S3Target {
  client: S3Client;
  bucket: string;
  /** For messages: where the bucket is (never the keys). */
  endpoint: string;
}

const text = (x: unknown): string | undefined => (typeof x === "string" && x ? x : undefined);

export function s3Target(
  bucket: string,
  credentials: Record<string, unknown> | null | undefined,
  clientParameters: Record<string, unknown> | null | undefined,
  env: Record<string, string | undefined>,
): S3Target {
  const creds = credentials ?? {};
  // aws_client_parameters (an aws-credentials block), or client_kwargs (s3fs settings of a
  // remote-file-system block)
  const fromBlock = (creds.aws_client_parameters ?? creds.client_kwargs ?? {}) as Record<string, unknown>;
  const params = { ...(clientParameters ?? {}), ...fromBlock };
  const endpoint =
    text(params.endpoint_url) ??
    text(creds.endpoint_url) ??
    text(env.AWS_ENDPOINT_URL) ??
    text(env.S3_ENDPOINT);
  const region =
    text(creds.region_name) ??
    text(params.region_name) ??
    text(env.AWS_REGION) ??
    text(env.AWS_DEFAULT_REGION);
  const accessKeyId =
    text(creds.aws_access_key_id) ??
    text(creds.minio_root_user) ??
    text(creds.key) ??
    text(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey =
    text(creds.aws_secret_access_key) ??
    text(creds.minio_root_password) ??
    text(creds.secret) ??
    text(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = text(creds.aws_session_token) ?? text(creds.token) ?? text(env.AWS_SESSION_TOKEN);
  if (!accessKeyId || !secretAccessKey) {
    throw new WeirError(
      "INVALID",
      `no S3 credentials for bucket "${bucket}": give credentials (an aws-credentials block: {{ weir.blocks.aws-credentials.NAME }}) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY on this machine${text(creds.profile_name) || text(env.AWS_PROFILE) ? " (AWS profiles, ~/.aws/credentials and instance roles are not read yet)" : ""}`,
    );
  }
  if (endpoint && /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) && !/^https?:\/\//i.test(endpoint))
    throw new WeirError(
      "INVALID",
      `endpoint_url "${endpoint}" must start with http:// or https:// (or be a host:port)`,
    );
  const useSsl = params.use_ssl !== false;
  const base = endpoint ?? `https://s3.${region ?? "us-east-1"}.amazonaws.com`;
  const url =
    endpoint && !/^https?:\/\//.test(endpoint) ? `${useSsl ? "https" : "http"}://${endpoint}` : base;
  return {
    client: new S3Client({
      accessKeyId,
      secretAccessKey,
      sessionToken,
      region: region ?? "us-east-1",
      endpoint: url,
      bucket,
      // Path-style for S3-compatible servers; AWS itself takes virtual-hosted style.
      virtualHostedStyle: !endpoint,
    }),
    bucket,
    endpoint: url,
  };
}

/** S3 error codes worth another try. */
const RETRYABLE = new Set([
  "InternalError",
  "ServiceUnavailable",
  "SlowDown",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "ConnectionRefused",
  "ConnectionClosed",
  "ECONNRESET",
  "ETIMEDOUT",
]);

/** What an S3 failure means, in one line, naming the bucket and endpoint and never a secret. */
export function describeS3Error(
  err: unknown,
  t: Pick<S3Target, "bucket" | "endpoint">,
  doing: string,
): WeirError {
  const e = err as { code?: string; name?: string; message?: string };
  const code = e.code ?? e.name ?? "Error";
  const why =
    code === "NoSuchBucket"
      ? `bucket "${t.bucket}" does not exist there (create it, or fix bucket)`
      : code === "InvalidAccessKeyId"
        ? "the access key id is not known there (check the credentials block)"
        : code === "SignatureDoesNotMatch"
          ? "the secret access key is wrong (check the credentials block)"
          : code === "AccessDenied"
            ? `access to bucket "${t.bucket}" is denied for these credentials`
            : code === "ConnectionRefused" || code === "ECONNREFUSED"
              ? "the endpoint refused the connection (is it up, and is endpoint_url right?)"
              : code === "DNSResolveFailed" || code === "ENOTFOUND"
                ? "the endpoint's host name does not resolve (check endpoint_url)"
                : /TLS|CERT|SSL/i.test(code)
                  ? "the TLS handshake failed (an endpoint that speaks plain HTTP needs an http:// endpoint_url; a private CA needs WEIR_CA_FILE)"
                  : code === "NoSuchKey" && doing.startsWith("listing")
                    ? "the endpoint answered as no S3 server would (is endpoint_url the S3 server's address?)"
                    : `${code}: ${e.message ?? "no details"}`;
  return new WeirError("FAILED", `${doing} bucket "${t.bucket}" at ${t.endpoint} failed: ${why}`, {
    cause: err,
  });
}

/** Every object under a prefix (all pages); `paged` when the listing took more than one page. */
export async function listAll(
  t: S3Target,
  prefix: string,
  signal: AbortSignal,
): Promise<{ key: string; size: number; etag: string }[] & { paged?: boolean }> {
  // By key: a server that repeats keys across pages (some S3-compatible ones do) lists each once,
  // and one that keeps answering pages with nothing new cannot keep the loop going.
  const out = new Map<string, { key: string; size: number; etag: string }>();
  let token: string | undefined;
  let pages = 0;
  do {
    pages++;
    const page = await withRetries(
      () => t.client.list({ prefix, ...(token ? { continuationToken: token } : {}), maxKeys: 1000 }),
      signal,
    );
    const before = out.size;
    for (const o of page.contents ?? [])
      out.set(o.key, { key: o.key, size: o.size ?? 0, etag: (o.eTag ?? "").replaceAll('"', "") });
    token = page.isTruncated && out.size > before ? page.nextContinuationToken : undefined;
  } while (token);
  return Object.assign([...out.values()], { paged: pages > 1 });
}

/**
 * Runs `op`, retrying S3 errors that may pass (5xx, throttling, timeouts, a dropped connection)
 * with backoff; a cancellation ends it at once.
 */
export const withRetries = <T>(op: () => Promise<T>, signal: AbortSignal): Promise<T> =>
  retry(op, signal, (err) => RETRYABLE.has((err as { code?: string }).code ?? ""));

export { inParallel } from "../../core/steps/index.ts";
