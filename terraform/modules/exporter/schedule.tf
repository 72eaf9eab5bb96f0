# Push mode (optional): one EventBridge rule per table invokes the `live` alias with a constant event
# without a low bound, so the exporter continues from where the table's newest complete export ended.

locals {
  scheduled = var.schedule_expression == null ? {} : var.scheduled_tables
}

resource "aws_cloudwatch_event_rule" "export" {
  for_each = local.scheduled

  name                = "${local.function_name}-${each.key}"
  description         = "aurora-snowflake-sync: export ${each.value.schema}.${each.value.name}"
  schedule_expression = var.schedule_expression
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "export" {
  for_each = local.scheduled

  rule = aws_cloudwatch_event_rule.export[each.key].name
  arn  = aws_lambda_alias.live.arn
  input = jsonencode(merge(
    {
      version        = 1
      table          = { schema = each.value.schema, name = each.value.name }
      mode           = each.value.mode
      strategy       = each.value.strategy
      chunks         = each.value.chunks
      parallelism    = each.value.parallelism
      late_row_guard = each.value.late_row_guard
      # no s3 member: the exporter writes where its environment says (AURORA_SYNC_S3_*)
    },
    each.value.watermark_column == null ? {} : { watermark_column = each.value.watermark_column },
    each.value.lookback == null ? {} : { lookback = each.value.lookback },
    # a table without a primary key: the key configured in the app (the load refuses another one)
    each.value.primary_key == null ? {} : { primary_key = each.value.primary_key },
  ))

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 2
  }
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.scheduled

  statement_id  = "eventbridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.exporter.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.export[each.key].arn
}
