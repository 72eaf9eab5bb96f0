# The Snowflake objects around the Native App (docs/snowflake/consumer_setup.sql steps 1 and 3-6):
# the storage integration on the export bucket, the network rule, the AWS IAM API authentication
# integration and its CLOUD_PROVIDER_TOKEN secret, the manifest key secret (a placeholder: its value is
# set from Vault, outside Terraform), the external access integration; optionally a
# warehouse and the operator/analyst roles. Binding them to the app (steps 2, 7-9) needs the app
# installed and stays in that script.

locals {
  comment           = "${var.project} (${var.environment}, cost-centre ${var.cost_centre}), managed by terraform"
  storage_name      = "${var.name_prefix}_S3"
  api_auth_name     = "${var.name_prefix}_AWS"
  access_name       = "${var.name_prefix}_EXPORTER"
  secret_name       = "EXPORTER_AWS"
  network_rule_name = "EXPORTER_ENDPOINT"
  admin_database    = var.create_admin_database ? snowflake_database.admin[0].name : var.admin_database
  admin_schema      = var.create_admin_database ? snowflake_schema.admin[0].name : var.admin_schema
  secret_fqn        = "\"${local.admin_database}\".\"${local.admin_schema}\".\"${local.secret_name}\""
  manifest_key_name = "MANIFEST_KEY"
  manifest_key_fqn  = "\"${local.admin_database}\".\"${local.admin_schema}\".\"${local.manifest_key_name}\""
  # DESC SECURITY INTEGRATION: one row per property (no rows until the integration exists)
  api_auth_rows       = coalesce(snowflake_execute.api_authentication.query_results, [])
  api_auth_properties = { for row in local.api_auth_rows : row["property"] => row["property_value"] }
}

resource "snowflake_storage_integration_aws" "exports" {
  name                      = local.storage_name
  enabled                   = true
  storage_provider          = "S3"
  storage_aws_role_arn      = var.storage_role_arn
  storage_allowed_locations = [var.stage_url]
  comment                   = "${local.comment}: read-only access to the export bucket"
}

resource "snowflake_database" "admin" {
  count = var.create_admin_database ? 1 : 0

  name    = var.admin_database
  comment = "${local.comment}: consumer-owned objects the AURORA_SYNC app is bound to"
}

resource "snowflake_schema" "admin" {
  count = var.create_admin_database ? 1 : 0

  database            = snowflake_database.admin[0].name
  name                = var.admin_schema
  with_managed_access = true
  comment             = "${local.comment}: network rule and secret of the exporter"
}

resource "snowflake_network_rule" "exporter_endpoint" {
  name       = local.network_rule_name
  database   = local.admin_database
  schema     = local.admin_schema
  type       = "HOST_PORT"
  mode       = "EGRESS"
  value_list = ["lambda.${var.aws_region}.amazonaws.com:443"]
  comment    = "${local.comment}: only the Lambda Invoke endpoint of the exporter's region"
}

# The provider has no resource for an AWS_IAM API authentication integration or a CLOUD_PROVIDER_TOKEN
# secret: both are plain DDL with a revert. Names are validated upper-case identifiers, the role ARN a
# validated ARN, so nothing here needs quoting.
resource "snowflake_execute" "api_authentication" {
  execute = "CREATE SECURITY INTEGRATION IF NOT EXISTS ${local.api_auth_name} TYPE = API_AUTHENTICATION AUTH_TYPE = AWS_IAM AWS_ROLE_ARN = '${var.invoke_role_arn}' ENABLED = TRUE COMMENT = '${local.comment}: the IAM role that may invoke the exporter'"
  revert  = "DROP SECURITY INTEGRATION IF EXISTS ${local.api_auth_name}"
  query   = "DESC SECURITY INTEGRATION ${local.api_auth_name}"
}

resource "snowflake_execute" "exporter_secret" {
  execute = "CREATE SECRET IF NOT EXISTS ${local.secret_fqn} TYPE = CLOUD_PROVIDER_TOKEN API_AUTHENTICATION = ${local.api_auth_name} COMMENT = '${local.comment}: AWS credentials of the exporter invoke role'"
  revert  = "DROP SECRET IF EXISTS ${local.secret_fqn}"

  depends_on = [snowflake_execute.api_authentication]
}

# The manifest signing key (docs/DEPLOYMENT.md section 3b). Created with a placeholder and never managed
# afterwards: the operator sets the value from Vault with ALTER SECRET, so the key is in no Terraform
# state or plan (snowflake_secret_with_generic_string would keep it in state). Until then intake refuses
# to run, naming the secret.
# A changed `execute` (e.g. the comment's cost centre) would replace the resource, and the replace drop the
# secret with the key the operator set and break the app's MANIFEST_KEY binding: changes are ignored and
# destroying it takes removing prevent_destroy on purpose.
resource "snowflake_execute" "manifest_key" {
  execute = "CREATE SECRET IF NOT EXISTS ${local.manifest_key_fqn} TYPE = GENERIC_STRING SECRET_STRING = 'unset: ALTER SECRET ... SET SECRET_STRING = ''<key_id>:<hex>'' from Vault' COMMENT = '${local.comment}: HMAC key the procedures verify manifest signatures with'"
  revert  = "DROP SECRET IF EXISTS ${local.manifest_key_fqn}"

  lifecycle {
    prevent_destroy = true # holds the key the operator set; remove this line to drop it on purpose
    ignore_changes  = [execute]
  }
}

resource "snowflake_external_access_integration" "exporter" {
  name                  = local.access_name
  enabled               = true
  allowed_network_rules = [snowflake_network_rule.exporter_endpoint.fully_qualified_name]
  comment               = "${local.comment}: CORE.REQUEST_EXPORTS to the exporter Lambda; the intake procedures' manifest key"

  allowed_authentication_secrets {
    secrets = [local.secret_fqn, local.manifest_key_fqn]
  }

  depends_on = [snowflake_execute.exporter_secret, snowflake_execute.manifest_key]
}

resource "snowflake_warehouse" "sync" {
  count = var.create_warehouse ? 1 : 0

  name                = "${var.name_prefix}_WH"
  warehouse_size      = var.warehouse_size
  auto_suspend        = var.warehouse_auto_suspend_s
  auto_resume         = "true"
  initially_suspended = true
  comment             = "${local.comment}: tasks on a warehouse instead of serverless"
}

resource "snowflake_account_role" "operator" {
  count = var.create_roles ? 1 : 0

  name    = "${var.name_prefix}_OPERATOR"
  comment = "${local.comment}: receives application role AURORA_SYNC_ADMIN (consumer_setup.sql step 8)"
}

resource "snowflake_account_role" "analyst" {
  count = var.create_roles ? 1 : 0

  name    = "${var.name_prefix}_ANALYST"
  comment = "${local.comment}: receives application role AURORA_SYNC_READER and USAGE on the target database (consumer_setup.sql step 8)"
}

resource "snowflake_grant_privileges_to_account_role" "analyst_warehouse" {
  count = var.create_roles && var.create_warehouse ? 1 : 0

  account_role_name = snowflake_account_role.analyst[0].name
  privileges        = ["USAGE"]

  on_account_object {
    object_type = "WAREHOUSE"
    object_name = snowflake_warehouse.sync[0].name
  }
}

resource "snowflake_grant_privileges_to_account_role" "operator_warehouse" {
  count = var.create_roles && var.create_warehouse ? 1 : 0

  account_role_name = snowflake_account_role.operator[0].name
  privileges        = ["USAGE"]

  on_account_object {
    object_type = "WAREHOUSE"
    object_name = snowflake_warehouse.sync[0].name
  }
}

resource "snowflake_grant_privileges_to_account_role" "storage_integration" {
  for_each = toset(var.grant_to_roles)

  account_role_name = each.value
  privileges        = ["USAGE"]

  on_account_object {
    object_type = "INTEGRATION"
    object_name = snowflake_storage_integration_aws.exports.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "external_access" {
  for_each = toset(var.grant_to_roles)

  account_role_name = each.value
  privileges        = ["USAGE"]

  on_account_object {
    object_type = "INTEGRATION"
    object_name = snowflake_external_access_integration.exporter.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "admin_database" {
  for_each = toset(var.grant_to_roles)

  account_role_name = each.value
  privileges        = ["USAGE"]

  on_account_object {
    object_type = "DATABASE"
    object_name = local.admin_database
  }
}

resource "snowflake_grant_privileges_to_account_role" "admin_schema" {
  for_each = toset(var.grant_to_roles)

  account_role_name = each.value
  privileges        = ["USAGE"]

  on_schema {
    schema_name = "\"${local.admin_database}\".\"${local.admin_schema}\""
  }
}

resource "snowflake_grant_privileges_to_account_role" "secret" {
  for_each = toset(var.grant_to_roles)

  account_role_name = each.value
  privileges        = ["READ"]

  on_schema_object {
    object_type = "SECRET"
    object_name = local.secret_fqn
  }

  depends_on = [snowflake_execute.exporter_secret]
}

resource "snowflake_grant_privileges_to_account_role" "manifest_key" {
  for_each = toset(var.grant_to_roles)

  account_role_name = each.value
  privileges        = ["READ"]

  on_schema_object {
    object_type = "SECRET"
    object_name = local.manifest_key_fqn
  }

  depends_on = [snowflake_execute.manifest_key]
}
