# The export bucket: private, SSE-KMS with its own key, versioned, TLS-only, access-logged, and
# lifecycle rules that clean up what failed exports leave behind (docs/EXPORTER.md).

locals {
  tags = merge(var.tags, {
    "project"     = var.project
    "environment" = var.environment
    "cost-centre" = var.cost_centre
    "managed-by"  = "terraform"
  })
  partition      = data.aws_partition.current.partition
  account_id     = data.aws_caller_identity.current.account_id
  bucket_arn     = "arn:${local.partition}:s3:::${var.bucket_name}"
  data_prefix    = "${var.prefix}data/"
  manifests      = "${var.prefix}manifests/"
  answers        = "${var.prefix}answers/"
  state_prefix   = "${var.prefix}state/"
  cluster_id     = element(split(":", var.aurora_cluster_arn), 6)
  export_role    = coalesce(var.aurora_export_role_name, "${var.name}-aurora-export")
  snowflake_role = coalesce(var.snowflake_read_role_name, "${var.name}-snowflake-read")
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "bucket_key" {
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
}

resource "aws_kms_key" "bucket" {
  description             = "${var.name}: SSE-KMS of the aurora-snowflake-sync export bucket"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.bucket_key.json
  tags                    = local.tags
}

resource "aws_kms_alias" "bucket" {
  name          = "alias/${var.name}-exports"
  target_key_id = aws_kms_key.bucket.key_id
}

resource "aws_s3_bucket" "exports" {
  #checkov:skip=CKV_AWS_144:cross-region replication is not needed: the files are transient copies of Aurora rows, re-exportable at any time
  #checkov:skip=CKV2_AWS_62:no event notifications: Snowflake pulls the manifests on its own schedule
  bucket = var.bucket_name
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "exports" {
  bucket                  = aws_s3_bucket.exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "exports" {
  bucket = aws_s3_bucket.exports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.bucket.arn
    }
  }
}

resource "aws_s3_bucket_logging" "exports" {
  bucket        = aws_s3_bucket.exports.id
  target_bucket = var.access_log_bucket
  target_prefix = var.access_log_prefix
}

resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    id     = "expire-orphan-export-files"
    status = "Enabled"

    filter {
      prefix = local.data_prefix
    }

    expiration {
      days = var.data_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-old-manifests"
    status = "Enabled"

    filter {
      prefix = local.manifests
    }

    expiration {
      days = var.manifest_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  # the exporter's answers to asynchronous requests: read by the next intake, useless after a day or two
  rule {
    id     = "expire-old-answers"
    status = "Enabled"

    filter {
      prefix = local.answers
    }

    expiration {
      days = var.answer_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "keep-only-the-current-state-pointer"
    status = "Enabled"

    filter {
      prefix = local.state_prefix
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  # the bucket is the pipeline's own: unfinished uploads and expired delete markers go everywhere
  rule {
    id     = "bucket-wide-cleanup"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.exports]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

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

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "exports" {
  bucket = aws_s3_bucket.exports.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.exports]
}
