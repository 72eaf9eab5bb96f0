output "function_name" {
  description = "Name of the exporter Lambda."
  value       = aws_lambda_function.exporter.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the exporter Lambda."
  value       = aws_lambda_function.exporter.arn
}

output "live_alias_arn" {
  description = "ARN of the `live` alias: what CORE.REGISTER_EXPORTER takes and the only thing Snowflake may invoke."
  value       = aws_lambda_alias.live.arn
}

output "live_version" {
  description = "Version the `live` alias points at."
  value       = aws_lambda_alias.live.function_version
}

output "published_version" {
  description = "Version this apply published (the newest)."
  value       = aws_lambda_function.exporter.version
}

output "role_arn" {
  description = "Execution role of the Lambda: bind it to the Vault role (vault write auth/aws/role/<role> bound_iam_principal_arn=...)."
  value       = aws_iam_role.exporter.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the Lambda."
  value       = aws_cloudwatch_log_group.exporter.name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (failed asynchronous invocations)."
  value       = aws_sqs_queue.dlq.url
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the exporter."
  value       = aws_cloudwatch_dashboard.exporter.dashboard_name
}

output "snowflake_invoke_role_name" {
  description = "Name of the role Snowflake assumes to invoke the exporter (whether or not it exists yet)."
  value       = coalesce(var.snowflake_invoke_role_name, "${var.name}-snowflake-invoke")
}

output "snowflake_invoke_role_arn" {
  description = "ARN of that role, built from its name so it is known before the role exists (AWS_ROLE_ARN of the API authentication integration)."
  value       = "arn:${local.partition}:iam::${local.account_id}:role/${coalesce(var.snowflake_invoke_role_name, "${var.name}-snowflake-invoke")}"
}

output "answer_timeout_minutes" {
  description = "Pull mode: the ANSWER_TIMEOUT_MINUTES to pass to REGISTER_EXPORTER: the Lambda timeout plus the maximum event age plus 5 minutes. A request unanswered for longer is reported FAILED and requested again."
  value       = ceil((var.timeout_s + var.pull_max_event_age_s) / 60) + 5
}
