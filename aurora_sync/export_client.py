"""Ask the exporter for one export, or for a reconciliation's source side.

Through the Lambda Invoke API (AWS or the loopback endpoint), or with its code in this process.
"""

from __future__ import annotations

from typing import Any, Protocol

from aurora_sync import aws, fan_out_driver
from lambda_exporter import fan_out
from lambda_exporter.event import ExportRequest
from lambda_exporter.reconcile import run_reconcile
from lambda_exporter.source import connect
from stored_procs.orchestration.lambda_invoke import ExportFailed, invoker
from sync_contract.reconcile import parse_request

__all__ = ["ExportFailed", "Exporter", "LambdaExporter", "LocalExporter", "exporter_for"]


class Exporter(Protocol):
    def export(self, request: ExportRequest) -> dict[str, Any]: ...

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]: ...


class LambdaExporter:
    def __init__(self, function_name: str, region: str, endpoint_url: str | None = None) -> None:
        self.function_name = function_name
        self._invoke = invoker(function_name, aws.client("lambda", region, endpoint_url))

    def export(self, request: ExportRequest) -> dict[str, Any]:
        if request.max_rows_per_invocation is not None:  # a plan, then one invocation per part
            return fan_out_driver.run(lambda r: self._invoke(r.to_event()), request)
        return self._invoke(request.to_event())

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._invoke(event)


class LocalExporter:
    """Runs the exporter's code in this process, against the config's source DSN."""

    def __init__(self, dsn: str, s3_endpoint_url: str | None) -> None:
        self._dsn = dsn
        self._endpoint = s3_endpoint_url

    def export(self, request: ExportRequest) -> dict[str, Any]:
        if request.max_rows_per_invocation is not None:  # the plan and each part as separate calls
            return fan_out_driver.run(self._export_one, request)
        return self._export_one(request)

    def _export_one(self, request: ExportRequest) -> dict[str, Any]:
        s3 = aws.client("s3", request.s3.region, request.s3.endpoint_url or self._endpoint)
        conn = connect(self._dsn)
        try:
            return fan_out.export(conn, s3, request, connect_worker=lambda: connect(self._dsn)).to_dict()
        finally:
            conn.close()

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]:
        conn = connect(self._dsn)
        try:
            # the operator's own process and DSN: the configured key is trusted (the Lambda checks it)
            return run_reconcile(conn, parse_request(event), real_key=False)
        finally:
            conn.close()


def exporter_for(config: Any) -> Exporter:
    """The configured exporter Lambda (or its loopback endpoint), else the exporter's code in-process."""
    if config.exporter.lambda_function:
        return LambdaExporter(
            config.exporter.lambda_function,
            config.exporter.region or config.s3.region,
            config.exporter.lambda_endpoint_url,
        )
    return LocalExporter(config.source_dsn, config.s3.endpoint_url)
