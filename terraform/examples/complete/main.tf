# Everything aurora-snowflake-sync needs, in one state: network path, bucket, exporter and the
# Snowflake objects. The IAM roles Snowflake assumes are named up front, so the integrations are
# created first and the roles' trust policies take their IAM user ARN and external ID in the same
# apply (terraform/README.md explains the two-step order when AWS and Snowflake live in two states).

locals {
  name = "aurora-sync-${var.environment}"
  tags = {
    "project"     = "aurora-snowflake-sync"
    "environment" = var.environment
    "cost-centre" = var.cost_centre
    "managed-by"  = "terraform"
  }
  package_path = coalesce(var.lambda_package_path, "${path.root}/../../../build/lambda/aurora-sync-exporter.zip")
}

module "storage" {
  source = "../../modules/storage"

  name               = local.name
  environment        = var.environment
  cost_centre        = var.cost_centre
  bucket_name        = var.bucket_name
  prefix             = var.prefix
  access_log_bucket  = var.access_log_bucket
  aurora_cluster_arn = var.aurora_cluster_arn

  snowflake_storage_principal = {
    iam_user_arn = module.snowflake.storage_aws_iam_user_arn
    external_id  = module.snowflake.storage_aws_external_id
  }
}

module "network" {
  source = "../../modules/network"

  name                     = local.name
  environment              = var.environment
  cost_centre              = var.cost_centre
  vpc_id                   = var.vpc_id
  aurora_security_group_id = var.aurora_security_group_id
  vault_cidr_blocks        = var.vault_cidr_blocks
  route_table_ids          = var.route_table_ids
  export_bucket_arn        = module.storage.bucket_arn
}

module "exporter" {
  source = "../../modules/exporter"

  name                = local.name
  environment         = var.environment
  cost_centre         = var.cost_centre
  package_path        = local.package_path
  live_version        = var.exporter_live_version
  subnet_ids          = var.subnet_ids
  security_group_id   = module.network.security_group_id
  bucket_name         = module.storage.bucket_name
  prefix              = module.storage.prefix
  bucket_region       = var.aws_region # the bucket's region: the one REGISTER_STAGE names (outputs.tf)
  bucket_kms_key_arn  = module.storage.kms_key_arn
  vault               = var.vault
  allowed_tables      = var.allowed_tables
  alarm_actions       = var.alarm_actions
  schedule_expression = var.schedule_expression
  scheduled_tables    = var.scheduled_tables

  snowflake_invoke_principal = {
    iam_user_arn = module.snowflake.api_aws_iam_user_arn
    external_id  = module.snowflake.api_aws_external_id
  }
}

module "snowflake" {
  source = "../../modules/snowflake"

  environment      = var.environment
  cost_centre      = var.cost_centre
  stage_url        = module.storage.stage_url
  storage_role_arn = module.storage.snowflake_read_role_arn
  invoke_role_arn  = module.exporter.snowflake_invoke_role_arn
  aws_region       = var.aws_region
}
