"""The handler's structured logs and embedded-format metrics, as CloudWatch would receive them."""

from __future__ import annotations

import io
import json

import pytest

from lambda_exporter import settings as exporter_settings
from lambda_exporter.errors import SourceError
from lambda_exporter.handler import handler


class Context:
    aws_request_id = "req-123"
    function_name = "aurora-sync-exporter"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 600_000


@pytest.fixture
def env(endpoints, monkeypatch):
    monkeypatch.setenv("AURORA_SYNC_SOURCE_DSN", endpoints.pg_dsn)
    for key, value in {
        "AURORA_SYNC_S3_ENDPOINT_URL": endpoints.s3_endpoint,
        "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT": "1",
        "AURORA_SYNC_S3_BUCKET": "aurora-sync-exports",
        "AURORA_SYNC_S3_PREFIX": "obs/",
        "AURORA_SYNC_S3_REGION": "us-east-1",
        "AURORA_SYNC_ALLOWED_TABLES": "public.*",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    exporter_settings.load_settings.cache_clear()
    yield
    exporter_settings.load_settings.cache_clear()


@pytest.fixture
def logs():
    """The Powertools logger's JSON lines (its handler keeps the stream it had at import)."""
    from lambda_exporter.observability import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    yield stream
    logger.registered_handler.setStream(previous)


def _event(table: str) -> dict:
    return {
        "version": 1,
        "table": {"schema": "public", "name": table},
        "watermark_column": "v",
        "late_row_guard": False,  # an integer watermark
        "s3": {"bucket": "aurora-sync-exports", "prefix": "obs/", "region": "us-east-1"},
    }


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _metric(records: list[dict], name: str) -> dict:
    for r in records:
        metrics = r.get("_aws", {}).get("CloudWatchMetrics", [{}])[0].get("Metrics", [])
        if any(m["Name"] == name for m in metrics):
            return r
    raise AssertionError(f"no {name} metric in {records}")


def test_a_successful_export_logs_and_measures_per_table(pg, env, logs, capsys):
    pg.cursor().execute("CREATE TABLE public.obs_ok (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.obs_ok SELECT g, g FROM generate_series(1, 7) g")
    result = handler(_event("obs_ok"), Context())
    records = _records(logs.getvalue() + capsys.readouterr().out)
    (done,) = [r for r in records if r.get("message") == "export finished"]
    assert (done["table"], done["export_id"], done["correlation_id"]) == (
        "public.obs_ok",
        result["export_id"],
        "req-123",
    )
    assert (done["service"], done["level"], done["rows"]) == ("aurora-sync-exporter", "INFO", 7)
    rows = _metric(records, "ExportedRows")
    assert (rows["ExportedRows"], rows["table"]) == ([7.0], "public.obs_ok")
    assert rows["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AuroraSync"
    assert _metric(records, "ExportFailures")["ExportFailures"] == [0.0]


def test_a_terminal_failure_is_logged_and_counted_once_without_retries(env, logs, capsys):
    with pytest.raises(SourceError, match="public.obs_missing does not exist"):
        handler(_event("obs_missing"), Context())
    records = _records(logs.getvalue() + capsys.readouterr().out)
    assert not [r for r in records if r.get("message") == "transient failure, retrying"]
    (failed,) = [r for r in records if r.get("message") == "export failed"]
    assert (failed["table"], failed["error_type"], failed["level"]) == ("public.obs_missing", "SourceError", "ERROR")
    assert _metric(records, "ExportFailures")["ExportFailures"] == [1.0]


def test_a_reconcile_event_is_answered_and_retried_over_a_lost_connection(endpoints, pg, monkeypatch, logs, capsys):
    from urllib.parse import urlparse

    from tests.integration.faults import DroppingTcpProxy

    pg.cursor().execute("CREATE TABLE public.obs_rec (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.obs_rec SELECT g, g FROM generate_series(1, 40) g")
    dsn = urlparse(endpoints.pg_dsn)
    event = {"action": "reconcile", "schema": "public", "table": "obs_rec", "primary_key": ["id"], "bucket_digits": 1}
    with DroppingTcpProxy(dsn.hostname or "127.0.0.1", dsn.port or 5432, drop=1) as proxy:
        monkeypatch.setenv(
            "AURORA_SYNC_SOURCE_DSN", dsn._replace(netloc=dsn.netloc.replace(str(dsn.port), str(proxy.port))).geturl()
        )
        monkeypatch.delenv("VAULT_ADDR", raising=False)
        monkeypatch.setenv("AURORA_SYNC_ALLOWED_TABLES", "public.obs_rec")
        exporter_settings.load_settings.cache_clear()
        try:
            answer = handler(event, Context())
        finally:
            exporter_settings.load_settings.cache_clear()
    assert proxy.dropped == 1
    assert answer["rows"] == 40 and sum(n for n, _ in answer["buckets"].values()) == 40
    records = _records(logs.getvalue() + capsys.readouterr().out)
    assert [r for r in records if r.get("message") == "transient failure, retrying"]
    assert [r for r in records if r.get("message") == "reconcile finished"]
