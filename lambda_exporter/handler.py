"""The Lambda entry point: validate the event, run one export, return its summary."""

from __future__ import annotations

from typing import Any

import boto3

from lambda_exporter.event import parse_event
from lambda_exporter.exporter import run_export
from lambda_exporter.settings import load_settings
from lambda_exporter.source import connect


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request = parse_event(event)
    settings = load_settings()
    s3 = boto3.client(
        "s3", region_name=request.s3.region, endpoint_url=request.s3.endpoint_url or settings.s3_endpoint_url
    )
    conn = connect(settings.source_dsn, settings.connect_timeout_s)
    try:
        return run_export(conn, s3, request).to_dict()
    finally:
        conn.close()
