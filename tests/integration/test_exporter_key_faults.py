"""The manifest signing key read from a Vault that fails: retried like the source credentials.

The handler in this process, with a deployment's Vault settings, in front of a real OpenBao dev server
reached through a loopback TCP proxy that drops connections (tests/integration/faults.py): Vault
unreachable for one attempt is retried and the export succeeds, signed with Vault's key; unreachable
throughout, the export fails, is logged ("export failed") and counted (ExportFailures), and nothing is
written to S3.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from urllib.parse import urlparse

import boto3
import pytest

from aurora_sync.stack.vault import DevVault
from lambda_exporter import handler as handler_module
from lambda_exporter import settings as exporter_settings
from lambda_exporter.handler import handler
from lambda_exporter.retry import RetryPolicy
from lambda_exporter.secrets import VaultUnreachableError
from sync_contract.signing import verify
from tests.integration.faults import DroppingTcpProxy

BUCKET, PREFIX, REGION = "aurora-sync-exports", "keyfault/", "us-east-1"
KEY_ID = "k-fault"


class Context:
    aws_request_id = "req-keyfault"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 600_000


@pytest.fixture(scope="module")
def vault(tmp_path_factory) -> Iterator[DevVault]:
    with DevVault(tmp_path_factory.mktemp("bao-keyfault")) as server:
        yield server


@pytest.fixture
def logs():
    """The Powertools logger's JSON lines (its handler keeps the stream it had at import)."""
    from lambda_exporter.observability import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    yield stream
    logger.registered_handler.setStream(previous)


@pytest.fixture
def s3(endpoints):
    return boto3.client("s3", endpoint_url=endpoints.s3_endpoint, region_name=REGION)


def _environment(monkeypatch, endpoints, vault: DevVault, proxy_port: int, table: str, material: str) -> None:
    """A deployment's environment: source credentials and signing key both from Vault, reached through
    the proxy; short retry delays (the policy's attempts unchanged)."""
    pg = urlparse(endpoints.pg_dsn)
    vault.put(
        f"aurora-sync/{table}", host=pg.hostname, port=pg.port, database="app", user=pg.username, password=pg.password
    )
    vault.put(f"aurora-sync/{table}-key", key_id=KEY_ID, key=material)
    for name, value in {
        "VAULT_ADDR": f"http://127.0.0.1:{proxy_port}",
        "VAULT_TOKEN": vault.root_token,
        "VAULT_AUTH_METHOD": "token",
        "VAULT_TIMEOUT_S": "2",
        "VAULT_SECRET_PATH_AURORA": f"aurora-sync/{table}",
        "VAULT_SECRET_PATH_MANIFEST_KEY": f"aurora-sync/{table}-key",
        "AURORA_SYNC_S3_ENDPOINT_URL": endpoints.s3_endpoint,
        "AURORA_SYNC_ALLOW_LOCAL_ENDPOINT": "1",
        "AURORA_SYNC_S3_BUCKET": BUCKET,
        "AURORA_SYNC_S3_PREFIX": PREFIX,
        "AURORA_SYNC_S3_REGION": REGION,
        "AURORA_SYNC_ALLOWED_TABLES": f"public.{table}",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AURORA_SYNC_SOURCE_DSN", raising=False)
    monkeypatch.setattr(handler_module, "RETRY_POLICY", RetryPolicy(base_delay_s=0.05, max_delay_s=0.2))
    exporter_settings.load_settings.cache_clear()


def _table(pg, name: str, rows: int) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, g FROM generate_series(1, %s) g", (rows,))


def _event(table: str) -> dict:
    return {
        "version": 1,
        "table": {"schema": "public", "name": table},
        "watermark_column": "v",
        "late_row_guard": False,
    }


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _failures_metric(records: list[dict]) -> list[float]:
    for r in records:
        metrics = r.get("_aws", {}).get("CloudWatchMetrics", [{}])[0].get("Metrics", [])
        if any(m["Name"] == "ExportFailures" for m in metrics):
            return list(r["ExportFailures"])
    raise AssertionError(f"no ExportFailures metric in {records}")


def _written(s3, table: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    return [o["Key"] for o in listed if f"{table}" in o["Key"]]


def test_vault_unreachable_for_the_signing_key_on_the_first_attempt_is_retried_and_the_export_is_signed(
    pg, endpoints, vault, s3, monkeypatch, logs, capsys
):
    table = "keyfault_once"
    _table(pg, table, rows=5)
    material = secrets.token_hex(32)
    host = urlparse(vault.addr)
    with DroppingTcpProxy(host.hostname or "127.0.0.1", host.port or 8200, drop=1) as proxy:
        _environment(monkeypatch, endpoints, vault, proxy.port, table, material)
        try:
            result = handler(_event(table), Context())
        finally:
            exporter_settings.load_settings.cache_clear()
    assert proxy.dropped == 1  # the first Vault request (the signing key's) found Vault unreachable
    assert (result["status"], result["rows"]) == ("exported", 5)
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=result["manifest_key"])["Body"].read())
    assert verify(doc, {KEY_ID: bytes.fromhex(material)}) == KEY_ID
    assert doc["rows"] == 5
    records = _records(logs.getvalue() + capsys.readouterr().out)
    (retried,) = [r for r in records if r.get("message") == "transient failure, retrying"]
    assert retried["error_type"] == "VaultUnreachableError"
    assert not [r for r in records if r.get("message") == "export failed"]
    assert _failures_metric(records) == [0.0]


def test_vault_unreachable_throughout_fails_the_export_logged_and_counted_with_nothing_written(
    pg, endpoints, vault, s3, monkeypatch, logs, capsys
):
    table = "keyfault_always"
    _table(pg, table, rows=5)
    material = secrets.token_hex(32)
    host = urlparse(vault.addr)
    with DroppingTcpProxy(host.hostname or "127.0.0.1", host.port or 8200, drop=1_000) as proxy:
        _environment(monkeypatch, endpoints, vault, proxy.port, table, material)
        try:
            with pytest.raises(VaultUnreachableError, match="unreachable"):
                handler(_event(table), Context())
        finally:
            exporter_settings.load_settings.cache_clear()
    attempts = RetryPolicy().attempts
    assert proxy.dropped == attempts  # one signing-key read per attempt, none reached the source
    assert _written(s3, table) == []  # no data file, no manifest, no latest pointer
    records = _records(logs.getvalue() + capsys.readouterr().out)
    retries = [r for r in records if r.get("message") == "transient failure, retrying"]
    assert [r["error_type"] for r in retries] == ["VaultUnreachableError"] * (attempts - 1)
    (failed,) = [r for r in records if r.get("message") == "export failed"]
    assert (failed["table"], failed["error_type"], failed["level"]) == (
        f"public.{table}",
        "VaultUnreachableError",
        "ERROR",
    )
    assert material not in failed["error"]
    assert _failures_metric(records) == [1.0]
