output "exporter_live_alias_arn" {
  description = "What Snowflake invokes: pass it to CORE.REGISTER_EXPORTER."
  value       = module.exporter.live_alias_arn
}

output "exporter_role_arn" {
  description = "The Lambda's execution role: bind it to the Vault role (bound_iam_principal_arn)."
  value       = module.exporter.role_arn
}

output "exporter_dashboard" {
  description = "CloudWatch dashboard of the exporter."
  value       = module.exporter.dashboard_name
}

output "stage_url" {
  description = "s3://bucket/prefix/ for CORE.REGISTER_STAGE."
  value       = module.storage.stage_url
}

output "storage_integration_name" {
  description = "Storage integration for consumer_setup.sql step 2 and CORE.REGISTER_STAGE."
  value       = module.snowflake.storage_integration_name
}

output "external_access_integration_name" {
  description = "External access integration for the EXPORTER_ACCESS reference (consumer_setup.sql step 7)."
  value       = module.snowflake.external_access_integration_name
}

output "exporter_secret_name" {
  description = "Secret for the EXPORTER_SECRET reference (consumer_setup.sql step 7)."
  value       = module.snowflake.secret_name
}

output "register_calls" {
  description = "The two configuration calls of consumer_setup.sql step 9 with this deployment's values."
  value = join("\n", [
    "CALL ${var.app_name}.CORE.REGISTER_STAGE('${module.storage.stage_url}', '${module.snowflake.storage_integration_name}', '${var.aws_region}');",
    "CALL ${var.app_name}.CORE.REGISTER_EXPORTER('${module.exporter.live_alias_arn}', '${var.aws_region}', NULL, ${module.exporter.answer_timeout_minutes});",
  ])
}

output "manifest_key_secret_name" {
  description = "The GENERIC_STRING secret to bind to the app's MANIFEST_KEY reference; set its value from Vault (docs/DEPLOYMENT.md section 3b)."
  value       = module.snowflake.manifest_key_secret_name
}
