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

variable "vpc_id" {
  type        = string
  description = "VPC of the Aurora cluster; the exporter Lambda runs in its private subnets."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "aurora_security_group_id" {
  type        = string
  description = "Security group of the Aurora cluster: the exporter may reach it on aurora_port, and nothing else in the VPC."

  validation {
    condition     = can(regex("^sg-[0-9a-f]{8,17}$", var.aurora_security_group_id))
    error_message = "aurora_security_group_id must look like sg-0123456789abcdef0."
  }
}

variable "aurora_port" {
  type        = number
  description = "PostgreSQL port of the Aurora cluster."
  default     = 5432

  validation {
    condition     = var.aurora_port >= 1 && var.aurora_port <= 65535
    error_message = "aurora_port must be 1..65535."
  }
}

variable "manage_aurora_ingress" {
  type        = bool
  description = "Add an ingress rule to the Aurora security group that admits the exporter on aurora_port. Set false when the cluster's rules are managed elsewhere."
  default     = true
}

variable "vault_cidr_blocks" {
  type        = list(string)
  description = "IPv4 CIDR blocks of the Vault servers (or their load balancer) the exporter reads the source credentials from."

  validation {
    condition     = length(var.vault_cidr_blocks) > 0 && alltrue([for c in var.vault_cidr_blocks : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "vault_cidr_blocks must be a non-empty list of IPv4 CIDR blocks, none of them 0.0.0.0/0."
  }
}

variable "vault_port" {
  type        = number
  description = "HTTPS port of Vault."
  default     = 8200

  validation {
    condition     = var.vault_port >= 1 && var.vault_port <= 65535
    error_message = "vault_port must be 1..65535."
  }
}

variable "create_s3_gateway_endpoint" {
  type        = bool
  description = "Create an S3 gateway VPC endpoint on route_table_ids, restricted to the export bucket. Set false when the VPC already has one (then give s3_prefix_list_id)."
  default     = true
}

variable "route_table_ids" {
  type        = list(string)
  description = "Route tables of the exporter's (and Aurora's) subnets, for the S3 gateway endpoint. Required when create_s3_gateway_endpoint is true."
  default     = []
}

variable "s3_prefix_list_id" {
  type        = string
  description = "Managed prefix list of an existing S3 gateway endpoint (pl-...); used when create_s3_gateway_endpoint is false."
  default     = null

  validation {
    condition     = var.s3_prefix_list_id == null || can(regex("^pl-[0-9a-f]{8,17}$", var.s3_prefix_list_id))
    error_message = "s3_prefix_list_id must look like pl-0123456789abcdef0."
  }
}

variable "export_bucket_arn" {
  type        = string
  description = "ARN of the export bucket: the only bucket the created S3 gateway endpoint's policy admits."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_bucket_arn))
    error_message = "export_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::bucket)."
  }
}

variable "https_egress_cidr_blocks" {
  type        = list(string)
  description = "Extra IPv4 CIDR blocks the exporter may reach on 443, e.g. interface VPC endpoints (X-Ray) in a VPC without NAT. Empty by default."
  default     = []

  validation {
    condition     = alltrue([for c in var.https_egress_cidr_blocks : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "https_egress_cidr_blocks must be IPv4 CIDR blocks other than 0.0.0.0/0."
  }
}
