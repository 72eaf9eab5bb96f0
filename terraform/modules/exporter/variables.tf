variable "name" {
  type        = string
  description = "Name of the exporter deployment (e.g. aurora-sync-prod); prefixes every resource name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "project" {
  type        = string
  description = "Value of the project tag."
  default     = "aurora-snowflake-sync"
}

variable "environment" {
  type        = string
  description = "Value of the environment tag (e.g. dev, staging, prod)."

  validation {
    condition     = can(regex("^[a-z0-9-]{2,32}$", var.environment))
    error_message = "environment must be 2-32 lower-case letters, digits or hyphens."
  }
}

variable "cost_centre" {
  type        = string
  description = "Value of the cost-centre tag."

  validation {
    condition     = length(trimspace(var.cost_centre)) > 0
    error_message = "cost_centre must not be empty."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource; project, environment, cost-centre and managed-by are always set."
  default     = {}
}

variable "package_path" {
  type        = string
  description = "Path of the zip `make lambda-package` builds (build/lambda/aurora-sync-exporter.zip): runtime python3.11, x86_64, handler lambda_exporter.handler.handler."

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must name a .zip file."
  }
}

variable "live_version" {
  type        = string
  description = "Published version the `live` alias points at. Null (the default): the version this apply publishes. Set it to an earlier version number to roll back without rebuilding."
  default     = null

  validation {
    condition     = var.live_version == null || can(regex("^[0-9]+$", var.live_version))
    error_message = "live_version must be a published version number such as \"12\"."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the Lambda runs in (at least two, in different availability zones), with a route to Aurora, Vault and the S3 gateway endpoint."

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must hold at least two subnet ids (subnet-...)."
  }
}

variable "security_group_id" {
  type        = string
  description = "The exporter's security group (output security_group_id of the network module)."

  validation {
    condition     = can(regex("^sg-[0-9a-f]{8,17}$", var.security_group_id))
    error_message = "security_group_id must look like sg-0123456789abcdef0."
  }
}

variable "bucket_name" {
  type        = string
  description = "Export bucket (output bucket_name of the storage module)."
}

variable "prefix" {
  type        = string
  description = "Key prefix of the pipeline's objects (output prefix of the storage module): \"\" or ending in \"/\"."

  validation {
    condition     = var.prefix == "" || endswith(var.prefix, "/")
    error_message = "prefix must be empty or end in \"/\"."
  }
}

variable "bucket_region" {
  type        = string
  description = "Region of the export bucket (AURORA_SYNC_S3_REGION): the region REGISTER_STAGE names, since REQUEST_EXPORTS forwards it and the exporter refuses any other. Null: the exporter's own region (a bucket in the same region)."
  default     = null

  validation {
    condition     = var.bucket_region == null || can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.bucket_region))
    error_message = "bucket_region must be null or an AWS region name such as eu-west-1."
  }
}

variable "bucket_kms_key_arn" {
  type        = string
  description = "KMS key of the export bucket (output kms_key_arn of the storage module)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.bucket_kms_key_arn))
    error_message = "bucket_kms_key_arn must be a KMS key ARN."
  }
}

variable "memory_mb" {
  type        = number
  description = "Memory of the Lambda in MB (CPU scales with it; gzip and the S3 upload are CPU-bound)."
  default     = 1769

  validation {
    condition     = var.memory_mb >= 512 && var.memory_mb <= 10240
    error_message = "memory_mb must be 512..10240."
  }
}

variable "timeout_s" {
  type        = number
  description = "Lambda timeout in seconds (at most 900). The app reports an asynchronous request unanswered after its answer timeout, which must cover this plus pull_max_event_age_s; SYNC_ALL / SYNC_TABLE wait up to 900 s for each call."
  default     = 900

  validation {
    condition     = var.timeout_s >= 60 && var.timeout_s <= 900
    error_message = "timeout_s must be 60..900."
  }
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions: caps the connections the exporter opens on Aurora (REQUEST_EXPORTS calls at most 4 at a time; each export may open `parallelism` connections) and guarantees it capacity."
  default     = 8

  validation {
    condition     = var.reserved_concurrency >= 1 && var.reserved_concurrency <= 1000
    error_message = "reserved_concurrency must be 1..1000."
  }
}

variable "pull_max_event_age_s" {
  type        = number
  description = "Pull mode: how long Lambda keeps a queued REQUEST_EXPORTS event (throttled) before dropping it. The app's answer timeout (REGISTER_EXPORTER's ANSWER_TIMEOUT_MINUTES, output answer_timeout_minutes) must cover timeout_s plus this."
  default     = 600

  validation {
    condition     = var.pull_max_event_age_s >= 60 && var.pull_max_event_age_s <= 21600
    error_message = "pull_max_event_age_s must be 60..21600 (Lambda's bounds)."
  }
}

variable "async_retry_attempts" {
  type        = number
  description = "Push mode: retries of a failed scheduled (EventBridge) invocation before the event goes to the dead-letter queue. The exporter already retries transient failures inside one invocation. Pull mode makes none (main.tf)."
  default     = 1

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts must be 0..2."
  }
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
  description = "Where the exporter reads the source credentials (lambda_exporter/secrets.py): Vault address (https), KV v2 path and mount, and the Vault role of the AWS IAM login the Lambda's role is bound to. cacert_path is a file inside the Lambda (e.g. /opt/vault-ca.pem from a layer). No token: the Lambda logs in with its IAM role. manifest_key_path: the KV v2 secret (fields key_id, key) the exporter signs manifests with."

  validation {
    condition     = startswith(var.vault.addr, "https://")
    error_message = "vault.addr must be an https:// URL: the credentials never travel unencrypted."
  }

  validation {
    condition     = length(trimspace(var.vault.secret_path)) > 0 && length(trimspace(var.vault.aws_role)) > 0
    error_message = "vault.secret_path and vault.aws_role must not be empty."
  }

  validation {
    condition     = length(trimspace(var.vault.manifest_key_path)) > 0 && var.vault.manifest_key_path != var.vault.secret_path
    error_message = "vault.manifest_key_path (the KV v2 secret with fields key_id and key the exporter signs manifests with) must be set, and differ from vault.secret_path."
  }

  validation {
    condition     = var.vault.timeout_s > 0 && var.vault.timeout_s <= 60
    error_message = "vault.timeout_s must be in (0, 60]."
  }
}

variable "allowed_tables" {
  type        = list(string)
  description = "Tables the exporter may read (AURORA_SYNC_ALLOWED_TABLES): \"schema.table\", \"schema.*\" or \"*\", names as PostgreSQL stores them (case-sensitive; double-quote a part holding a dot). An event naming any other table is refused before anything is read; reconcile is held to the same list. A table without a primary key reconciles only by a key declared here (a unique index is not used undeclared): \"schema.table(col, ...)\"."

  validation {
    condition     = length(var.allowed_tables) > 0 && alltrue([for t in var.allowed_tables : can(regex("^(\\*|[^,()\\s][^,()]*\\.[^,()]*[^,()\\s](\\([^()]+\\))?)$", t))])
    error_message = "allowed_tables must hold at least one entry, each \"*\", \"schema.*\", \"schema.table\" or \"schema.table(key, ...)\" without commas (outside the key list) or surrounding spaces."
  }
}

variable "s3_endpoint_url" {
  type        = string
  description = "S3 endpoint of the exporter (AURORA_SYNC_S3_ENDPOINT_URL), e.g. an interface VPC endpoint (https://bucket.vpce-<id>.s3.<region>.vpce.amazonaws.com); null: AWS's regional endpoint. Only https endpoints of Amazon S3 (a host under amazonaws.com with a label s3, s3-fips, s3-external-1 or s3-<region>): the exporter refuses any other AWS host."
  default     = null

  # the same rule as lambda_exporter.policy.is_s3_host (tests/contract/test_terraform.py compares them)
  validation {
    condition     = var.s3_endpoint_url == null || can(regex("^https://([a-z0-9-]+\\.)*(s3|s3-fips|s3-external-1|s3-[a-z]{2}(-gov)?-[a-z]+-[0-9])(\\.[a-z0-9-]+)*\\.amazonaws\\.com(\\.cn)?(:[0-9]+)?/?$", var.s3_endpoint_url))
    error_message = "s3_endpoint_url must be null or an https:// endpoint of Amazon S3, e.g. https://s3.eu-west-1.amazonaws.com or https://bucket.vpce-<id>.s3.eu-west-1.vpce.amazonaws.com."
  }
}

variable "connect_timeout_s" {
  type        = number
  description = "PostgreSQL connect timeout (AURORA_SYNC_CONNECT_TIMEOUT_S)."
  default     = 10

  validation {
    condition     = var.connect_timeout_s >= 1 && var.connect_timeout_s <= 300
    error_message = "connect_timeout_s must be 1..300."
  }
}

variable "statement_timeout_ms" {
  type        = number
  description = "PostgreSQL statement_timeout of every statement (AURORA_SYNC_STATEMENT_TIMEOUT_MS); at most the Lambda timeout."
  default     = 600000

  validation {
    condition     = var.statement_timeout_ms >= 1000 && var.statement_timeout_ms <= 900000
    error_message = "statement_timeout_ms must be 1000..900000."
  }
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace of the exporter's metrics (AURORA_SYNC_METRICS_NAMESPACE); the dashboard reads it."
  default     = "AuroraSync"
}

variable "log_level" {
  type        = string
  description = "Log level of the exporter (POWERTOOLS_LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the Lambda's log group, in days."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention of at least a year (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "layers" {
  type        = list(string)
  description = "Lambda layer version ARNs, e.g. one holding Vault's CA bundle."
  default     = []
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the exporter's KMS key (logs, dead-letter queue, environment) is deleted after destroy."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be 7..30."
  }
}

variable "alarm_actions" {
  type        = list(string)
  description = "ARNs notified when an alarm fires or recovers (e.g. an SNS topic)."
  default     = []
}

variable "duration_alarm_ratio" {
  type        = number
  description = "The duration alarm fires when an invocation's maximum duration reaches this fraction of the timeout."
  default     = 0.8

  validation {
    condition     = var.duration_alarm_ratio > 0 && var.duration_alarm_ratio < 1
    error_message = "duration_alarm_ratio must be between 0 and 1."
  }
}

variable "schedule_expression" {
  type        = string
  description = "Push mode: EventBridge schedule (rate(...) or cron(...)) that exports each of scheduled_tables. Null (the default): Snowflake's Task graph invokes the exporter (pull mode)."
  default     = null

  validation {
    condition     = var.schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }
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
    late_row_guard   = optional(bool, true)
    lookback         = optional(string)
    primary_key      = optional(list(string))
  }))
  description = "Push mode: the tables exported on schedule_expression, keyed by a short name. Each becomes one EventBridge rule whose event (docs/EXPORTER.md) has no low bound: the exporter continues from <prefix>state/. An integer or numeric watermark needs lookback (a number, as a string) or late_row_guard = false: the exporter refuses it otherwise. primary_key: only for a table without one in PostgreSQL, the key configured in the app (ADD_TABLE's PRIMARY_KEY); the load refuses a manifest keyed otherwise."
  default     = {}

  validation {
    condition     = alltrue([for k, t in var.scheduled_tables : can(regex("^[a-z0-9-]{1,32}$", k))])
    error_message = "scheduled_tables keys must be 1-32 lower-case letters, digits or hyphens."
  }

  validation {
    condition     = alltrue([for t in var.scheduled_tables : contains(["incremental", "full", "keys"], t.mode)])
    error_message = "scheduled_tables[*].mode must be incremental, full or keys."
  }

  validation {
    condition     = alltrue([for t in var.scheduled_tables : (t.mode == "full") == (t.watermark_column == null)])
    error_message = "scheduled_tables: incremental and keys modes need watermark_column; full mode must not have one."
  }

  validation {
    condition     = alltrue([for t in var.scheduled_tables : contains(["copy", "aws_s3"], t.strategy) && t.chunks >= 1 && t.chunks <= 64 && t.parallelism >= 1 && t.parallelism <= 8])
    error_message = "scheduled_tables: strategy must be copy or aws_s3, chunks 1..64, parallelism 1..8."
  }
}

variable "create_snowflake_invoke_role" {
  type        = bool
  description = "Create the role Snowflake's API authentication integration assumes to invoke the exporter. Needs snowflake_invoke_principal, which exists only after the integration is created: in a two-step apply, false first."
  default     = true
}

variable "snowflake_invoke_role_name" {
  type        = string
  description = "Name of the role Snowflake assumes to invoke the exporter (AWS_ROLE_ARN of the API authentication integration); default <name>-snowflake-invoke."
  default     = null
}

variable "snowflake_invoke_principal" {
  type = object({
    iam_user_arn = string
    external_id  = string
  })
  description = "API_AWS_IAM_USER_ARN and API_AWS_EXTERNAL_ID of the API authentication integration (outputs of the snowflake module, or DESC SECURITY INTEGRATION)."
  default     = null
}
