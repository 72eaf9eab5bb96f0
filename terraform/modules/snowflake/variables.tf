variable "name_prefix" {
  type        = string
  description = "Upper-case prefix of every account-level object (integrations, roles, warehouse), e.g. AURORA_SYNC."
  default     = "AURORA_SYNC"

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9_]{0,40}$", var.name_prefix))
    error_message = "name_prefix must be an unquoted upper-case Snowflake identifier (A-Z, 0-9, _), at most 41 characters."
  }
}

variable "project" {
  type        = string
  description = "Project, written into every object's comment (Snowflake objects have no AWS-style tags)."
  default     = "aurora-snowflake-sync"

  validation {
    condition     = can(regex("^[^'\\\\]+$", var.project))
    error_message = "project must not be empty nor hold quotes or backslashes (it goes into SQL comments)."
  }
}

variable "environment" {
  type        = string
  description = "Environment, written into every object's comment."

  validation {
    condition     = can(regex("^[a-z0-9-]{2,32}$", var.environment))
    error_message = "environment must be 2-32 lower-case letters, digits or hyphens."
  }
}

variable "cost_centre" {
  type        = string
  description = "Cost centre, written into every object's comment."

  validation {
    condition     = length(trimspace(var.cost_centre)) > 0 && can(regex("^[^'\\\\]+$", var.cost_centre))
    error_message = "cost_centre must not be empty nor hold quotes or backslashes (it goes into SQL comments)."
  }
}

variable "stage_url" {
  type        = string
  description = "s3://<bucket>/<prefix> the storage integration may read (output stage_url of the storage module); must end in \"/\"."

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([^'\\\\]*/)?$", var.stage_url))
    error_message = "stage_url must look like s3://bucket/prefix/ (ending in \"/\", no quotes or backslashes)."
  }
}

variable "storage_role_arn" {
  type        = string
  description = "ARN of the IAM role the storage integration assumes (output snowflake_read_role_arn of the storage module); it may not exist yet."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,128}$", var.storage_role_arn))
    error_message = "storage_role_arn must be an IAM role ARN."
  }
}

variable "invoke_role_arn" {
  type        = string
  description = "ARN of the IAM role Snowflake assumes to invoke the exporter (output snowflake_invoke_role_arn of the exporter module); it may not exist yet."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,128}$", var.invoke_role_arn))
    error_message = "invoke_role_arn must be an IAM role ARN."
  }
}

variable "aws_region" {
  type        = string
  description = "Region of the exporter Lambda: the network rule admits lambda.<region>.amazonaws.com:443 only."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as eu-west-1."
  }
}

variable "create_admin_database" {
  type        = bool
  description = "Create admin_database and admin_schema, which hold the network rule and the secret. False: they exist already."
  default     = true
}

variable "admin_database" {
  type        = string
  description = "Database of the consumer-owned objects the app is bound to (docs/snowflake/consumer_setup.sql step 3)."
  default     = "AURORA_SYNC_ADMIN_DB"

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9_]{0,254}$", var.admin_database))
    error_message = "admin_database must be an unquoted upper-case identifier."
  }
}

variable "admin_schema" {
  type        = string
  description = "Schema (in admin_database) of the network rule and the secret."
  default     = "SECRETS"

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9_]{0,254}$", var.admin_schema))
    error_message = "admin_schema must be an unquoted upper-case identifier."
  }
}

variable "create_warehouse" {
  type        = bool
  description = "Create a warehouse for tasks on a warehouse instead of serverless (CALL CORE.ENABLE_SCHEDULE('60 MINUTES', '<warehouse>')) and for worksheet users."
  default     = false
}

variable "warehouse_size" {
  type        = string
  description = "Size of the created warehouse."
  default     = "XSMALL"

  validation {
    condition     = contains(["XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE"], var.warehouse_size)
    error_message = "warehouse_size must be XSMALL, SMALL, MEDIUM, LARGE or XLARGE."
  }
}

variable "warehouse_auto_suspend_s" {
  type        = number
  description = "Seconds of inactivity after which the created warehouse suspends."
  default     = 60

  validation {
    condition     = var.warehouse_auto_suspend_s >= 60 && var.warehouse_auto_suspend_s <= 3600
    error_message = "warehouse_auto_suspend_s must be 60..3600."
  }
}

variable "create_roles" {
  type        = bool
  description = "Create two account roles, <prefix>_OPERATOR and <prefix>_ANALYST, to which consumer_setup.sql step 8 grants the app roles AURORA_SYNC_ADMIN and AURORA_SYNC_VIEWER (operators) and AURORA_SYNC_READER (analysts, who read the replicated tables on the sync warehouse)."
  default     = true
}

variable "grant_to_roles" {
  type        = list(string)
  description = "Account roles that may use both integrations and read the secret: the owner role of a plain (non-Native-App) deployment. The Native App gets these through consumer_setup.sql steps 2 and 7 instead."
  default     = []

  validation {
    condition     = alltrue([for r in var.grant_to_roles : can(regex("^[A-Z][A-Z0-9_]{0,254}$", r))])
    error_message = "grant_to_roles must hold unquoted upper-case role names."
  }
}
