# The exporter Lambda (lambda_exporter.handler.handler) in the VPC, with its KMS key, log group,
# dead-letter queue and the `live` alias that Snowflake and the schedule invoke.

locals {
  tags = merge(var.tags, {
    "project"     = var.project
    "environment" = var.environment
    "cost-centre" = var.cost_centre
    "managed-by"  = "terraform"
  })
  function_name = "${var.name}-exporter"
  log_group     = "/aws/lambda/${local.function_name}"
  partition     = data.aws_partition.current.partition
  account_id    = data.aws_caller_identity.current.account_id
  region        = data.aws_region.current.region
  bucket_arn    = "arn:${local.partition}:s3:::${var.bucket_name}"
  # the bucket's region, not the Lambda's: it must equal the region REGISTER_STAGE names (REQUEST_EXPORTS
  # forwards it, and the exporter refuses an event whose s3.region differs from AURORA_SYNC_S3_REGION)
  bucket_region = coalesce(var.bucket_region, local.region)
  function_arn  = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}"
  alias_name    = "live"

  # lambda_exporter/settings.py, policy.py, secrets.py and manifest_key.py read exactly these; unset ones
  # keep the code's defaults. Never VAULT_TOKEN, VAULT_SKIP_VERIFY, AURORA_SYNC_SOURCE_DSN,
  # AURORA_SYNC_MANIFEST_SIGNING_KEY or AURORA_SYNC_ALLOW_LOCAL_ENDPOINT here: the Lambda logs in to Vault
  # with its role, reads the manifest key from Vault, and writes only to AWS's S3.
  environment = {
    VAULT_ADDR                       = var.vault.addr
    VAULT_SECRET_PATH_AURORA         = var.vault.secret_path
    VAULT_SECRET_PATH_MANIFEST_KEY   = var.vault.manifest_key_path
    VAULT_KV_MOUNT                   = var.vault.kv_mount
    VAULT_AUTH_METHOD                = "aws"
    VAULT_AWS_ROLE                   = var.vault.aws_role
    VAULT_AWS_MOUNT                  = var.vault.aws_mount
    VAULT_AWS_SERVER_ID              = var.vault.server_id
    VAULT_NAMESPACE                  = var.vault.namespace
    VAULT_CACERT                     = var.vault.cacert_path
    VAULT_TIMEOUT_S                  = tostring(var.vault.timeout_s)
    AURORA_SYNC_CONNECT_TIMEOUT_S    = tostring(var.connect_timeout_s)
    AURORA_SYNC_STATEMENT_TIMEOUT_MS = tostring(var.statement_timeout_ms)
    AURORA_SYNC_METRICS_NAMESPACE    = var.metrics_namespace
    # where every export goes and which tables may be read: the environment's, never an event's
    AURORA_SYNC_S3_BUCKET       = var.bucket_name
    AURORA_SYNC_S3_PREFIX       = var.prefix == "" ? null : var.prefix
    AURORA_SYNC_S3_REGION       = local.bucket_region
    AURORA_SYNC_S3_ENDPOINT_URL = var.s3_endpoint_url
    AURORA_SYNC_ALLOWED_TABLES  = join(",", var.allowed_tables)
    POWERTOOLS_LOG_LEVEL        = var.log_level
  }
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:key policy: the account-root statement is AWS's default that keeps the key manageable through IAM; Resource "*" in a key policy is this key
  #checkov:skip=CKV_AWS_111:key policy: the account-root statement is AWS's default that keeps the key manageable through IAM; Resource "*" in a key policy is this key
  #checkov:skip=CKV_AWS_356:key policy: Resource "*" in a key policy means this key and nothing else
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheLogGroup"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group}"]
    }
  }
}

resource "aws_kms_key" "exporter" {
  description             = "${var.name}: the exporter's logs, dead-letter queue and environment"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = local.tags
}

resource "aws_kms_alias" "exporter" {
  name          = "alias/${var.name}-exporter"
  target_key_id = aws_kms_key.exporter.key_id
}

resource "aws_cloudwatch_log_group" "exporter" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.exporter.arn
  tags              = local.tags
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${local.function_name}-dlq"
  message_retention_seconds         = 1209600 # 14 days, SQS's maximum
  kms_master_key_id                 = aws_kms_key.exporter.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = local.tags
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.dlq.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}

resource "aws_lambda_function" "exporter" {
  #checkov:skip=CKV_AWS_272:code signing needs an AWS Signer profile the platform team owns; the zip is built reproducibly by `make lambda-package` in CI and uploaded by Terraform only
  function_name                  = local.function_name
  description                    = "aurora-snowflake-sync: export one Aurora table window to S3 and write its manifest"
  role                           = aws_iam_role.exporter.arn
  runtime                        = "python3.11"
  architectures                  = ["x86_64"]
  handler                        = "lambda_exporter.handler.handler"
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  publish                        = true
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.exporter.arn
  layers                         = var.layers
  tags                           = local.tags

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  environment {
    variables = { for k, v in local.environment : k => v if v != null }
  }

  lifecycle {
    precondition {
      condition     = var.statement_timeout_ms <= var.timeout_s * 1000
      error_message = "statement_timeout_ms must not exceed the Lambda timeout (timeout_s * 1000)."
    }
  }

  depends_on = [aws_cloudwatch_log_group.exporter, aws_iam_role_policy.exporter]
}

resource "aws_lambda_alias" "live" {
  name             = local.alias_name
  description      = "The version Snowflake (REGISTER_EXPORTER) and the schedule invoke; move it back to roll back"
  function_name    = aws_lambda_function.exporter.function_name
  function_version = coalesce(var.live_version, aws_lambda_function.exporter.version)
}

# Asynchronous invocations of the alias: Snowflake's REQUEST_EXPORTS (pull mode, InvocationType=Event) or
# the EventBridge schedule (push mode). Lambda retries a failed asynchronous invocation twice by default and
# keeps an event up to 6 hours (AWS SAM "EventInvokeConfiguration" / Lambda "Asynchronous invocation").
# - Pull mode: no Lambda retries. The exporter already retries transient failures inside the invocation;
#   a Lambda retry of a failed request would export again after its failure answer has been reported,
#   possibly alongside the next run's request of the same window. The next run is the retry: the app
#   requests a table again once its request is answered or reported lost. Events older than
#   pull_max_event_age_s (throttled) are dropped: the app reports them lost after its answer timeout,
#   which must be at least timeout_s + pull_max_event_age_s (output answer_timeout_minutes).
# - Push mode: the schedule's event has no other retry, so async_retry_attempts applies, and an hour of age.
resource "aws_lambda_function_event_invoke_config" "live" {
  function_name                = aws_lambda_function.exporter.function_name
  qualifier                    = aws_lambda_alias.live.name
  maximum_retry_attempts       = var.schedule_expression == null ? 0 : var.async_retry_attempts
  maximum_event_age_in_seconds = var.schedule_expression == null ? var.pull_max_event_age_s : 3600
}
