# The exporter's network path: its own security group whose only ways out are Aurora's port, Vault
# and S3 (through the gateway endpoint's prefix list). No ingress: nothing calls into the Lambda's ENIs.

locals {
  tags = merge(var.tags, {
    "project"     = var.project
    "environment" = var.environment
    "cost-centre" = var.cost_centre
    "managed-by"  = "terraform"
  })
  s3_prefix_list_id = var.create_s3_gateway_endpoint ? aws_vpc_endpoint.s3[0].prefix_list_id : var.s3_prefix_list_id
}

data "aws_region" "current" {}

resource "aws_security_group" "exporter" {
  #checkov:skip=CKV2_AWS_5:attached to the exporter Lambda by the exporter module (vpc_config), outside this module
  name_prefix = "${var.name}-exporter-"
  description = "aurora-snowflake-sync exporter Lambda: egress to Aurora, Vault and S3 only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { "Name" = "${var.name}-exporter" })

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.create_s3_gateway_endpoint ? length(var.route_table_ids) > 0 : var.s3_prefix_list_id != null
      error_message = "Give route_table_ids (a new S3 gateway endpoint) or, with create_s3_gateway_endpoint = false, s3_prefix_list_id."
    }
  }
}

resource "aws_vpc_security_group_egress_rule" "aurora" {
  security_group_id            = aws_security_group.exporter.id
  description                  = "PostgreSQL on the Aurora cluster"
  ip_protocol                  = "tcp"
  from_port                    = var.aurora_port
  to_port                      = var.aurora_port
  referenced_security_group_id = var.aurora_security_group_id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "vault" {
  for_each = toset(var.vault_cidr_blocks)

  security_group_id = aws_security_group.exporter.id
  description       = "Vault (source credentials)"
  ip_protocol       = "tcp"
  from_port         = var.vault_port
  to_port           = var.vault_port
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  security_group_id = aws_security_group.exporter.id
  description       = "S3 through the gateway VPC endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = local.s3_prefix_list_id
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "https_extra" {
  for_each = toset(var.https_egress_cidr_blocks)

  security_group_id = aws_security_group.exporter.id
  description       = "HTTPS to an interface VPC endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "aurora_from_exporter" {
  count = var.manage_aurora_ingress ? 1 : 0

  security_group_id            = var.aurora_security_group_id
  description                  = "aurora-snowflake-sync exporter"
  ip_protocol                  = "tcp"
  from_port                    = var.aurora_port
  to_port                      = var.aurora_port
  referenced_security_group_id = aws_security_group.exporter.id
  tags                         = local.tags
}

data "aws_iam_policy_document" "s3_endpoint" {
  statement {
    sid       = "ExportBucketOnly"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.export_bucket_arn, "${var.export_bucket_arn}/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_vpc_endpoint" "s3" {
  count = var.create_s3_gateway_endpoint ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  policy            = data.aws_iam_policy_document.s3_endpoint.json
  tags              = merge(local.tags, { "Name" = "${var.name}-s3" })
}
