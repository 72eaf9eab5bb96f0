"""The Lambda entry point: validate the event, run one export, return its summary."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
import psycopg2

from lambda_exporter.event import parse_event
from lambda_exporter.exporter import run_export
from lambda_exporter.settings import Settings, load_settings
from lambda_exporter.source import Connection, connect, is_auth_failure


@lru_cache(maxsize=8)
def _s3_client(region: str, endpoint_url: str | None) -> Any:
    """Created once per region and endpoint, reused by warm invocations."""
    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url)


def connect_source(settings: Settings) -> Connection:
    """Connect with the cached credentials; if the database refuses them, read them again once."""
    try:
        return connect(settings.credentials.dsn(), settings.connect_timeout_s, settings.statement_timeout_ms)
    except psycopg2.OperationalError as err:
        if not is_auth_failure(err):
            raise
        settings.credentials.refresh()
        return connect(settings.credentials.dsn(), settings.connect_timeout_s, settings.statement_timeout_ms)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request = parse_event(event)
    settings = load_settings()
    s3 = _s3_client(request.s3.region, request.s3.endpoint_url or settings.s3_endpoint_url)
    conn = connect_source(settings)
    try:
        return run_export(conn, s3, request).to_dict()
    finally:
        conn.close()
