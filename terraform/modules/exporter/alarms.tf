# Alarms on the function and its dead-letter queue, and one dashboard: the Lambda's own metrics plus
# the exporter's embedded-metric-format metrics (lambda_exporter/observability.py: namespace
# AURORA_SYNC_METRICS_NAMESPACE, dimensions service and table).

locals {
  service = "aurora-sync-exporter" # lambda_exporter/observability.py SERVICE
  per_table = {
    for metric, stat in {
      ExportedRows   = "Sum"
      ExportedBytes  = "Sum"
      ExportedFiles  = "Sum"
      ExportDuration = "Maximum"
      ExportFailures = "Sum"
    } : metric => "SEARCH('{${var.metrics_namespace},service,table} MetricName=\"${metric}\" service=\"${local.service}\"', '${stat}', 300)"
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${local.function_name}-errors"
  alarm_description   = "The exporter raised an error (an export failed after its retries); see the log group ${local.log_group}"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.exporter.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  alarm_name          = "${local.function_name}-throttles"
  alarm_description   = "Invocations were throttled: more concurrent exports than reserved_concurrency"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.exporter.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "duration" {
  alarm_name          = "${local.function_name}-duration-near-timeout"
  alarm_description   = "An export took over ${floor(var.duration_alarm_ratio * 100)}% of the ${var.timeout_s}s timeout: split the table into chunks or raise memory_mb"
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.exporter.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = floor(var.timeout_s * 1000 * var.duration_alarm_ratio)
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${local.function_name}-dead-letters"
  alarm_description   = "A scheduled export failed for good and its event is in ${aws_sqs_queue.dlq.name}"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_dashboard" "exporter" {
  dashboard_name = local.function_name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Invocations, errors, throttles"
          region = local.region
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", local.function_name],
            [".", "Errors", ".", "."],
            [".", "Throttles", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Duration (ms)"
          region = local.region
          period = 300
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", local.function_name, { stat = "Average" }],
            ["...", { stat = "p99" }],
            ["...", { stat = "Maximum" }],
          ]
          annotations = { horizontal = [{ label = "timeout", value = var.timeout_s * 1000 }] }
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Rows exported per table"
          region  = local.region
          period  = 300
          metrics = [[{ expression = local.per_table.ExportedRows, id = "rows", label = "" }]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Bytes exported per table"
          region  = local.region
          period  = 300
          metrics = [[{ expression = local.per_table.ExportedBytes, id = "bytes", label = "" }]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title   = "Files exported per table"
          region  = local.region
          period  = 300
          metrics = [[{ expression = local.per_table.ExportedFiles, id = "files", label = "" }]]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title   = "Export duration per table (s, max)"
          region  = local.region
          period  = 300
          metrics = [[{ expression = local.per_table.ExportDuration, id = "duration", label = "" }]]
        }
      },
      {
        type = "metric", x = 0, y = 18, width = 12, height = 6
        properties = {
          title   = "Export failures per table"
          region  = local.region
          period  = 300
          metrics = [[{ expression = local.per_table.ExportFailures, id = "failures", label = "" }]]
        }
      },
      {
        type = "metric", x = 12, y = 18, width = 12, height = 6
        properties = {
          title   = "Concurrent executions"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          metrics = [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", local.function_name]]
          annotations = {
            horizontal = [{ label = "reserved concurrency", value = var.reserved_concurrency }]
          }
        }
      },
      {
        type = "metric", x = 0, y = 24, width = 12, height = 6
        properties = {
          title   = "Dead-letter queue depth"
          region  = local.region
          stat    = "Maximum"
          period  = 300
          metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name]]
        }
      },
    ]
  })
}
