variable "aws_region" {
  type        = string
  description = "Region of the Aurora cluster, the bucket and the exporter."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1."
  }
}

variable "environment" {
  type        = string
  description = "Environment name (dev, staging, prod): tags, comments and resource names."
}

variable "cost_centre" {
  type        = string
  description = "Cost centre, tagged on every resource."
}

variable "bucket_name" {
  type        = string
  description = "Name of the export bucket to create."
}

variable "prefix" {
  type        = string
  description = "Key prefix of everything the pipeline writes in the bucket (\"\" or ending in \"/\")."
  default     = "aurora-sync/"
}

variable "access_log_bucket" {
  type        = string
  description = "Existing bucket receiving the export bucket's server access logs."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the Aurora cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (two or more AZs) for the exporter Lambda."
}

variable "route_table_ids" {
  type        = list(string)
  description = "Route tables of those subnets, for the S3 gateway endpoint."
}

variable "aurora_cluster_arn" {
  type        = string
  description = "ARN of the Aurora PostgreSQL cluster."
}

variable "aurora_security_group_id" {
  type        = string
  description = "Security group of the Aurora cluster."
}

variable "vault_cidr_blocks" {
  type        = list(string)
  description = "CIDR blocks of the Vault servers."
}

variable "vault" {
  type = object({
    addr              = string
    secret_path       = string
    aws_role          = string
    manifest_key_path = string
    kv_mount          = optional(string, "secret")
    aws_mount         = optional(string, "aws")
    server_id         = optional(string)
    namespace         = optional(string)
    cacert_path       = optional(string)
    timeout_s         = optional(number, 5)
  })
  description = "Vault settings of the exporter (see the exporter module): the source credentials at secret_path, the manifest signing key (fields key_id, key) at manifest_key_path."
}

variable "allowed_tables" {
  type        = list(string)
  description = "Tables the exporter may read: \"schema.table\", \"schema.*\" or \"*\" (see the exporter module)."
}

variable "lambda_package_path" {
  type        = string
  description = "The zip from `make lambda-package`; default: build/lambda/aurora-sync-exporter.zip of this repository."
  default     = null
}

variable "exporter_live_version" {
  type        = string
  description = "Roll back the exporter: the published Lambda version the `live` alias points at. Null: the version this apply publishes."
  default     = null
}

variable "alarm_actions" {
  type        = list(string)
  description = "ARNs (e.g. an SNS topic) notified by the exporter's alarms."
  default     = []
}

variable "schedule_expression" {
  type        = string
  description = "Push mode: EventBridge schedule for scheduled_tables; null keeps pull mode (Snowflake invokes the exporter)."
  default     = null
}

variable "scheduled_tables" {
  type = map(object({
    schema           = string
    name             = string
    mode             = optional(string, "incremental")
    watermark_column = optional(string)
    strategy         = optional(string, "copy")
    chunks           = optional(number, 1)
    parallelism      = optional(number, 2)
  }))
  description = "Push mode: tables exported on schedule_expression."
  default     = {}
}

variable "app_name" {
  type        = string
  description = "Name of the installed Native App (AURORA_SYNC, or AURORA_SYNC_<SUFFIX> with `snow app run --env suffix=_<SUFFIX>`); used in the output register_calls only."
  default     = "AURORA_SYNC"

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9_]{0,254}$", var.app_name))
    error_message = "app_name must be an unquoted upper-case identifier."
  }
}

variable "snowflake_organization_name" {
  type        = string
  description = "Snowflake organization name."
}

variable "snowflake_account_name" {
  type        = string
  description = "Snowflake account name."
}

variable "snowflake_user" {
  type        = string
  description = "Snowflake service user Terraform connects as (key-pair authentication)."
}

variable "snowflake_role" {
  type        = string
  description = "Role Terraform uses in Snowflake: it needs CREATE INTEGRATION, CREATE DATABASE, CREATE ROLE and MANAGE GRANTS (ACCOUNTADMIN by default)."
  default     = "ACCOUNTADMIN"
}

variable "snowflake_private_key" {
  type        = string
  description = "PEM private key of snowflake_user. Set it as a sensitive workspace variable (or TF_VAR_snowflake_private_key), never in a file."
  sensitive   = true
}
