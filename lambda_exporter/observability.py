"""Structured logs and metrics for the exporter (AWS Lambda Powertools).

Logs are JSON lines with the table, the export id and the correlation id of the invocation; metrics
are CloudWatch embedded-metric-format records, one set per table (rows, bytes, files, duration,
failures). `traced` is the hook for tracing: it opens an X-Ray subsegment when the Lambda has
tracing on and aws-xray-sdk is present, and does nothing otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "aurora-sync-exporter"
NAMESPACE = os.environ.get("AURORA_SYNC_METRICS_NAMESPACE", "AuroraSync")

logger = Logger(service=SERVICE)


def record_success(table: str, result: dict[str, Any]) -> None:
    _metric(table, "ExportedRows", MetricUnit.Count, result.get("rows", 0))
    _metric(table, "ExportedBytes", MetricUnit.Bytes, result.get("bytes", 0))
    _metric(table, "ExportedFiles", MetricUnit.Count, result.get("files", 0))
    _metric(table, "ExportDuration", MetricUnit.Seconds, result.get("duration_s", 0.0))
    _metric(table, "ExportFailures", MetricUnit.Count, 0)


def record_failure(table: str) -> None:
    _metric(table, "ExportFailures", MetricUnit.Count, 1)


def _metric(table: str, name: str, unit: MetricUnit, value: float) -> None:
    with single_metric(
        name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE, "table": table}
    ):
        pass


@contextmanager
def traced(name: str) -> Iterator[None]:
    recorder = _xray_recorder()
    if recorder is None:
        yield
        return
    with recorder.in_subsegment(name):
        yield


def _xray_recorder() -> Any:
    if not os.environ.get("_X_AMZN_TRACE_ID"):
        return None
    try:
        from aws_xray_sdk.core import xray_recorder
    except ImportError:
        return None
    return xray_recorder
