output "security_group_id" {
  description = "Security group of the exporter Lambda (egress to Aurora, Vault and S3 only)."
  value       = aws_security_group.exporter.id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint the exporter reaches S3 through."
  value       = local.s3_prefix_list_id
}

output "s3_gateway_endpoint_id" {
  description = "ID of the S3 gateway endpoint created here, or null when an existing one is used."
  value       = one(aws_vpc_endpoint.s3[*].id)
}
