output "bucket_name" {
  description = "Name of the export bucket."
  value       = aws_s3_bucket.exports.id
}

output "bucket_arn" {
  description = "ARN of the export bucket."
  value       = aws_s3_bucket.exports.arn
}

output "prefix" {
  description = "Key prefix of the pipeline's objects (\"\" or ending in \"/\")."
  value       = var.prefix
}

output "stage_url" {
  description = "URL for the storage integration's STORAGE_ALLOWED_LOCATIONS and CORE.REGISTER_STAGE: s3://<bucket>/<prefix>."
  value       = "s3://${var.bucket_name}/${var.prefix}"
}

output "kms_key_arn" {
  description = "ARN of the bucket's KMS key (SSE-KMS); the exporter's role is granted GenerateDataKey/Decrypt on it."
  value       = aws_kms_key.bucket.arn
}

output "aurora_export_role_arn" {
  description = "ARN of the role associated with the cluster for feature s3Export."
  value       = aws_iam_role.aurora_export.arn
}

output "snowflake_read_role_name" {
  description = "Name of the role Snowflake's storage integration assumes (whether or not it exists yet)."
  value       = local.snowflake_role
}

output "snowflake_read_role_arn" {
  description = "ARN of the role Snowflake's storage integration assumes, built from its name so it is known before the role exists (STORAGE_AWS_ROLE_ARN)."
  value       = "arn:${local.partition}:iam::${local.account_id}:role/${local.snowflake_role}"
}
