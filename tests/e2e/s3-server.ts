// A real S3-compatible server for tests: s3rver (npm) on a loopback port, files in a temp folder.
import crypto from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "bun";
import S3rver from "s3rver";
import { freePort } from "./harness.ts";

// s3rver encrypts list continuation tokens with DES, which Bun's crypto does not have: map it to
// AES (test infrastructure only; tokens stay opaque and round-trip the same way).
const des = (fn: typeof crypto.createCipheriv) =>
  ((alg: string, key: Buffer, iv: Buffer, ...rest: unknown[]) =>
    alg === "des"
      ? fn("aes-128-cbc", Buffer.concat([key, key]), Buffer.concat([iv, iv]))
      : (fn as (...a: unknown[]) => unknown)(
          alg,
          key,
          iv,
          ...rest,
        )) as unknown as typeof crypto.createCipheriv;
crypto.createCipheriv = des(crypto.createCipheriv);
crypto.createDecipheriv = des(crypto.createDecipheriv as unknown as typeof crypto.createCipheriv) as never;

export class S3Server {
  readonly dir = mkdtempSync(join(tmpdir(), "weir-s3-"));
  port = 0;
  #server: InstanceType<typeof S3rver> | null = null;

  get endpoint() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The credentials s3rver accepts, as an aws-credentials block's data. */
  get block() {
    return {
      aws_access_key_id: "S3RVER",
      aws_secret_access_key: "S3RVER",
      aws_client_parameters: { endpoint_url: this.endpoint },
    };
  }

  constructor(readonly silent = true) {}

  async start(buckets: string[] = ["flows"]): Promise<void> {
    this.port ||= await freePort();
    this.#server = new S3rver({
      port: this.port,
      address: "127.0.0.1",
      silent: this.silent,
      directory: this.dir,
      configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    });
    await this.#server.run();
  }

  async stop(): Promise<void> {
    await this.#server?.close();
    this.#server = null;
  }

  client(bucket = "flows"): S3Client {
    return new S3Client({
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      bucket,
      endpoint: this.endpoint,
      region: "us-east-1",
    });
  }

  async keys(prefix: string, bucket = "flows"): Promise<string[]> {
    const page = await this.client(bucket).list({ prefix });
    return (page.contents ?? []).map((o) => o.key).sort();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
