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

variable "bucket_name" {
  type        = string
  description = "Name of the export bucket (created here)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)."
  }
}

variable "prefix" {
  type        = string
  description = "Key prefix of everything the pipeline writes: \"\" or ending in \"/\" (e.g. \"aurora-sync/\"). Exports go to <prefix>data/, manifests to <prefix>manifests/, the scheduled-export pointer to <prefix>state/."
  default     = "aurora-sync/"

  validation {
    condition     = var.prefix == "" || (can(regex("^[A-Za-z0-9!_.*'()/-]+/$", var.prefix)) && !startswith(var.prefix, "/") && !strcontains(var.prefix, "//"))
    error_message = "prefix must be empty or a key prefix ending in \"/\", without a leading \"/\", \"//\" or key=value segments."
  }
}

variable "data_expiration_days" {
  type        = number
  description = "Days after which objects under <prefix>data/ expire. A committed export is loaded within minutes; only orphans of failed exports (never referenced by a manifest) and loaded files remain. A table quarantined longer than this needs a resync."
  default     = 14

  validation {
    condition     = var.data_expiration_days >= 7 && var.data_expiration_days <= 365
    error_message = "data_expiration_days must be 7..365."
  }
}

variable "manifest_expiration_days" {
  type        = number
  description = "Days after which manifests under <prefix>manifests/ expire; Snowflake's MANIFESTS ledger keeps every manifest it took in."
  default     = 90

  validation {
    condition     = var.manifest_expiration_days >= 30 && var.manifest_expiration_days <= 3650
    error_message = "manifest_expiration_days must be 30..3650."
  }
}

variable "answer_expiration_days" {
  type        = number
  description = "Days after which the exporter's answers under <prefix>answers/ expire: an intake reads each within the app's answer timeout (minutes); EXPORT_REQUESTS keeps what it said."
  default     = 7

  validation {
    condition     = var.answer_expiration_days >= 1 && var.answer_expiration_days <= 60
    error_message = "answer_expiration_days must be 1..60 (below Snowflake's 64 days of load metadata)."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days a replaced or expired object version is kept (versioning is on) before it is deleted."
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 365
    error_message = "noncurrent_version_expiration_days must be 1..365."
  }
}

variable "access_log_bucket" {
  type        = string
  description = "Existing bucket that receives the export bucket's server access logs (under access_log_prefix)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be a valid S3 bucket name."
  }
}

variable "access_log_prefix" {
  type        = string
  description = "Key prefix of the server access logs in access_log_bucket."
  default     = "s3-access/aurora-sync/"
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the bucket's KMS key is deleted after destroy."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be 7..30."
  }
}

variable "aurora_cluster_arn" {
  type        = string
  description = "ARN of the Aurora PostgreSQL cluster (arn:aws:rds:<region>:<account>:cluster:<id>): the only source the export role trusts."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster:[a-zA-Z][a-zA-Z0-9-]{0,62}$", var.aurora_cluster_arn))
    error_message = "aurora_cluster_arn must be an RDS cluster ARN."
  }
}

variable "attach_export_role" {
  type        = bool
  description = "Associate the export role with the cluster for feature s3Export (needed by the aws_s3 strategy). A cluster holds one role per feature: set false if it already has one."
  default     = true
}

variable "aurora_export_role_name" {
  type        = string
  description = "Name of the IAM role Aurora assumes for aws_s3.query_export_to_s3; default <name>-aurora-export."
  default     = null
}

variable "snowflake_read_role_name" {
  type        = string
  description = "Name of the IAM role Snowflake's storage integration assumes (read-only). Give it to the Snowflake module as arn:...:role/<name> before the role exists; default <name>-snowflake-read."
  default     = null
}

variable "create_snowflake_read_role" {
  type        = bool
  description = "Create the role Snowflake's storage integration assumes. Needs snowflake_storage_principal, which exists only after the integration is created: in a two-step apply, false first."
  default     = true
}

variable "snowflake_storage_principal" {
  type = object({
    iam_user_arn = string
    external_id  = string
  })
  description = "STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID of the storage integration (outputs of the snowflake module, or DESC INTEGRATION)."
  default     = null
}
