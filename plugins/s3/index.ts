import { textField } from "../../core/model/index.ts";
import { definePlugin } from "../../core/plugin/index.ts";
import { pullFromS3, pushToS3 } from "./steps.ts";

const clientParameters = {
  type: "object" as const,
  description:
    "client settings, as Prefect's AwsClientParameters: endpoint_url, use_ssl, verify, api_version",
};

/**
 * S3 and S3-compatible storage: push_to_s3 / pull_from_s3 (Prefect's prefect-aws steps, under
 * their names too) and the credentials blocks they take, with Prefect's field names.
 */
export const s3Plugin = definePlugin({
  name: "s3",
  steps: [pushToS3, pullFromS3],
  provides: ["prefect-aws"],
  blockTypes: [
    {
      slug: "aws-credentials",
      name: "AWS Credentials",
      description: "Credentials for AWS and S3-compatible services (Prefect's AwsCredentials)",
      fields: {
        aws_access_key_id: textField("access key id"),
        aws_secret_access_key: textField("secret access key", { secret: true }),
        aws_session_token: textField("session token", { secret: true }),
        region_name: textField("region"),
        profile_name: textField("profile name"),
        aws_client_parameters: clientParameters,
        endpoint_url: textField(
          "endpoint of an S3-compatible service (aws_client_parameters.endpoint_url wins when both are set)",
        ),
      },
    },
    {
      slug: "s3",
      name: "S3",
      description:
        "A Prefect 2 storage block: a bucket and path for deployment code (weir deployment build -sb s3/NAME)",
      fields: {
        bucket_path: textField("bucket/path", { required: true }),
        aws_access_key_id: textField("access key id"),
        aws_secret_access_key: textField("secret access key", { secret: true }),
        endpoint_url: textField("endpoint of an S3-compatible service"),
      },
    },
    {
      slug: "s3-bucket",
      name: "S3 Bucket",
      description:
        "A bucket and its credentials (Prefect's S3Bucket): {{ weir.blocks.s3-bucket.NAME.bucket_name }}",
      fields: {
        bucket_name: textField("bucket name", { required: true }),
        bucket_folder: textField("folder in the bucket"),
        credentials: {
          type: "object",
          secret: true,
          description:
            "aws-credentials fields: aws_access_key_id, aws_secret_access_key, aws_client_parameters",
        },
      },
    },
    {
      slug: "remote-file-system",
      name: "Remote File System",
      description: "A Prefect 2 storage block at an s3:// basepath (other schemes are not supported yet)",
      fields: {
        basepath: textField("s3://bucket/path", { required: true }),
        settings: {
          type: "object",
          secret: true,
          description: "s3fs settings: key, secret, token, client_kwargs.endpoint_url",
        },
      },
    },
    {
      slug: "minio-credentials",
      name: "MinIO Credentials",
      description: "Credentials for a MinIO server (Prefect's MinIOCredentials)",
      fields: {
        minio_root_user: textField("root user (access key)", { required: true }),
        minio_root_password: textField("root password (secret key)", { secret: true, required: true }),
        region_name: textField("region"),
        aws_client_parameters: clientParameters,
      },
    },
  ],
});
