# The two roles that touch the bucket from outside the exporter Lambda:
# - Aurora's s3Export role: writes export files under <prefix>data/ only (aws_s3 strategy);
# - the role Snowflake's storage integration assumes: reads <prefix>data/, <prefix>manifests/ and
#   <prefix>answers/ (the exporter's answers to asynchronous requests) only.

data "aws_iam_policy_document" "aurora_trust" {
  statement {
    sid     = "AuroraClusterOnly"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.aurora_cluster_arn]
    }
  }
}

data "aws_iam_policy_document" "aurora_export" {
  statement {
    sid       = "WriteExportFiles"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.data_prefix}*"]
  }

  statement {
    sid       = "EncryptWithTheBucketKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.bucket.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

data "aws_region" "current" {}

resource "aws_iam_role" "aurora_export" {
  name                 = local.export_role
  description          = "Aurora ${local.cluster_id}: aws_s3.query_export_to_s3 into s3://${var.bucket_name}/${local.data_prefix}"
  assume_role_policy   = data.aws_iam_policy_document.aurora_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role_policy" "aurora_export" {
  name   = "export-to-data-prefix"
  role   = aws_iam_role.aurora_export.id
  policy = data.aws_iam_policy_document.aurora_export.json
}

resource "aws_rds_cluster_role_association" "s3_export" {
  count = var.attach_export_role ? 1 : 0

  db_cluster_identifier = local.cluster_id
  feature_name          = "s3Export"
  role_arn              = aws_iam_role.aurora_export.arn
}

data "aws_iam_policy_document" "snowflake_trust" {
  count = var.create_snowflake_read_role ? 1 : 0

  statement {
    sid     = "SnowflakeStorageIntegration"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.snowflake_storage_principal.iam_user_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.snowflake_storage_principal.external_id]
    }
  }
}

data "aws_iam_policy_document" "snowflake_read" {
  statement {
    sid       = "ReadExportsAndManifests"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/${local.data_prefix}*", "${local.bucket_arn}/${local.manifests}*", "${local.bucket_arn}/${local.answers}*"]
  }

  statement {
    sid       = "ListThePrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.prefix, "${local.data_prefix}*", "${local.manifests}*", "${local.answers}*"]
    }
  }

  statement {
    sid       = "LocateTheBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "DecryptWithTheBucketKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.bucket.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "snowflake_read" {
  count = var.create_snowflake_read_role ? 1 : 0

  name                 = local.snowflake_role
  description          = "Snowflake storage integration: read s3://${var.bucket_name}/${var.prefix} (data and manifests)"
  assume_role_policy   = data.aws_iam_policy_document.snowflake_trust[0].json
  max_session_duration = 3600
  tags                 = local.tags

  lifecycle {
    precondition {
      condition     = try(length(var.snowflake_storage_principal.iam_user_arn) > 0 && length(var.snowflake_storage_principal.external_id) > 0, false)
      error_message = "create_snowflake_read_role needs snowflake_storage_principal (the storage integration's IAM user ARN and external ID): apply the snowflake module first, or set create_snowflake_read_role = false for now."
    }
  }
}

resource "aws_iam_role_policy" "snowflake_read" {
  count = var.create_snowflake_read_role ? 1 : 0

  name   = "read-exports"
  role   = aws_iam_role.snowflake_read[0].id
  policy = data.aws_iam_policy_document.snowflake_read.json
}
