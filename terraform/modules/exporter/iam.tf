# The exporter's execution role (least privilege: its log group, its prefixes of the bucket, its keys,
# its dead-letter queue) and the role Snowflake assumes to invoke it.

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "exporter" {
  name                 = "${local.function_name}-role"
  description          = "Execution role of ${local.function_name}; also the identity bound to Vault role ${var.vault.aws_role}"
  assume_role_policy   = data.aws_iam_policy_document.lambda_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "exporter" {
  statement {
    sid       = "WriteItsLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group}:*"]
  }

  statement {
    sid     = "WriteExportsManifestsAndState"
    actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [
      "${local.bucket_arn}/${var.prefix}data/*",
      "${local.bucket_arn}/${var.prefix}manifests/*",
      "${local.bucket_arn}/${var.prefix}state/*",
      # the signed answer to an asynchronous (pull mode) request: lambda_exporter/answers.py
      "${local.bucket_arn}/${var.prefix}answers/*",
    ]
  }

  statement {
    sid       = "ReadTheStatePointer"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${var.prefix}state/*"]
  }

  # a fan-out part checks that every part's manifest is written (HEAD), and the part that completes the set
  # reads their row counts for the request's answer (lambda_exporter/fan_out.py, fan_out_async.py)
  statement {
    sid       = "ReadItsManifests"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/${var.prefix}manifests/*"]
  }

  # without it a missing state pointer answers AccessDenied instead of NoSuchKey (lambda_exporter/manifest_lookup.py)
  statement {
    sid       = "ListTheStatePrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}state/*"]
    }
  }

  statement {
    sid       = "UseTheBucketKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.bucket_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "UseTheExporterKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.exporter.arn]
  }

  statement {
    sid       = "SendToItsDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

resource "aws_iam_role_policy" "exporter" {
  name   = "exporter"
  role   = aws_iam_role.exporter.id
  policy = data.aws_iam_policy_document.exporter.json
}

# A fan-out export of an asynchronous (pull mode) request: the plan's invocation invokes one asynchronous
# invocation per part of its own function, at its own version (lambda_exporter/fan_out_async.py). Only this
# function (unqualified, or any of its versions and aliases); a policy of its own because the function
# depends on the role's main policy (depends_on), and this one on the function's ARN.
data "aws_iam_policy_document" "invoke_itself" {
  statement {
    sid       = "InvokeItsOwnFunctionForFanOutParts"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.exporter.arn, "${aws_lambda_function.exporter.arn}:*"]
  }
}

resource "aws_iam_role_policy" "invoke_itself" {
  name   = "invoke-itself"
  role   = aws_iam_role.exporter.id
  policy = data.aws_iam_policy_document.invoke_itself.json
}

# The only statements with Resource "*": AWS offers no resource-level permissions for them.
data "aws_iam_policy_document" "exporter_aws_required" {
  #checkov:skip=CKV_AWS_356:ENI management in a VPC and X-Ray trace upload support no resource-level permissions; AWS requires Resource "*"
  #checkov:skip=CKV_AWS_111:ENI management in a VPC supports no resource constraint; the actions are limited to the five Lambda needs
  statement {
    sid = "ManageVpcNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "UploadTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "exporter_aws_required" {
  name   = "vpc-and-tracing"
  role   = aws_iam_role.exporter.id
  policy = data.aws_iam_policy_document.exporter_aws_required.json
}

data "aws_iam_policy_document" "snowflake_trust" {
  count = var.create_snowflake_invoke_role ? 1 : 0

  statement {
    sid     = "SnowflakeApiAuthenticationIntegration"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.snowflake_invoke_principal.iam_user_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.snowflake_invoke_principal.external_id]
    }
  }
}

# Only the alias: an unqualified call would run $LATEST and bypass a rollback of `live`.
data "aws_iam_policy_document" "snowflake_invoke" {
  statement {
    sid       = "InvokeTheLiveAlias"
    actions   = ["lambda:InvokeFunction"]
    resources = ["${local.function_arn}:${local.alias_name}"]
  }
}

resource "aws_iam_role" "snowflake_invoke" {
  count = var.create_snowflake_invoke_role ? 1 : 0

  name                 = coalesce(var.snowflake_invoke_role_name, "${var.name}-snowflake-invoke")
  description          = "Snowflake (CLOUD_PROVIDER_TOKEN secret): invoke ${local.function_name}:${local.alias_name} and nothing else"
  assume_role_policy   = data.aws_iam_policy_document.snowflake_trust[0].json
  max_session_duration = 3600
  tags                 = local.tags

  lifecycle {
    precondition {
      condition     = try(length(var.snowflake_invoke_principal.iam_user_arn) > 0 && length(var.snowflake_invoke_principal.external_id) > 0, false)
      error_message = "create_snowflake_invoke_role needs snowflake_invoke_principal (the API authentication integration's IAM user ARN and external ID): apply the snowflake module first, or set create_snowflake_invoke_role = false for now."
    }
  }
}

resource "aws_iam_role_policy" "snowflake_invoke" {
  count = var.create_snowflake_invoke_role ? 1 : 0

  name   = "invoke-exporter"
  role   = aws_iam_role.snowflake_invoke[0].id
  policy = data.aws_iam_policy_document.snowflake_invoke.json
}
