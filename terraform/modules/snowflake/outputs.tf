output "storage_integration_name" {
  description = "Name of the storage integration: GRANT USAGE on it to the app (consumer_setup.sql step 2) and pass it to CORE.REGISTER_STAGE."
  value       = snowflake_storage_integration_aws.exports.name
}

output "storage_aws_iam_user_arn" {
  description = "STORAGE_AWS_IAM_USER_ARN: the principal the storage read role must trust (storage module, snowflake_storage_principal.iam_user_arn)."
  value       = snowflake_storage_integration_aws.exports.describe_output[0].iam_user_arn
}

output "storage_aws_external_id" {
  description = "STORAGE_AWS_EXTERNAL_ID: the sts:ExternalId the storage read role requires (storage module, snowflake_storage_principal.external_id)."
  value       = snowflake_storage_integration_aws.exports.describe_output[0].external_id
}

output "api_aws_iam_user_arn" {
  description = "API_AWS_IAM_USER_ARN of the API authentication integration: the principal the invoke role must trust (exporter module, snowflake_invoke_principal.iam_user_arn)."
  value       = lookup(local.api_auth_properties, "API_AWS_IAM_USER_ARN", null)
}

output "api_aws_external_id" {
  description = "API_AWS_EXTERNAL_ID of the API authentication integration: the sts:ExternalId the invoke role requires (exporter module, snowflake_invoke_principal.external_id)."
  value       = lookup(local.api_auth_properties, "API_AWS_EXTERNAL_ID", null)
}

output "external_access_integration_name" {
  description = "External access integration to bind to the app's EXPORTER_ACCESS reference (consumer_setup.sql step 7)."
  value       = snowflake_external_access_integration.exporter.name
}

output "secret_name" {
  description = "Fully qualified CLOUD_PROVIDER_TOKEN secret to bind to the app's EXPORTER_SECRET reference (consumer_setup.sql step 7)."
  value       = "${local.admin_database}.${local.admin_schema}.${local.secret_name}"
}

output "warehouse_name" {
  description = "Name of the created warehouse, or null."
  value       = one(snowflake_warehouse.sync[*].name)
}

output "operator_role_name" {
  description = "Account role for AURORA_SYNC_ADMIN, or null."
  value       = one(snowflake_account_role.operator[*].name)
}

output "analyst_role_name" {
  description = "Account role for AURORA_SYNC_VIEWER, or null."
  value       = one(snowflake_account_role.analyst[*].name)
}

output "manifest_key_secret_name" {
  description = "Fully qualified GENERIC_STRING secret to bind to the app's MANIFEST_KEY reference (consumer_setup.sql step 7). Created with a placeholder: set its value from Vault (docs/DEPLOYMENT.md section 3b)."
  value       = "${local.admin_database}.${local.admin_schema}.${local.manifest_key_name}"
}
