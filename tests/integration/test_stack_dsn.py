"""AURORA_SYNC_PG_DSN without a password: the stack starts when libpq finds the password (PGPASSWORD, a
password file) and its exporter Lambda, another process, loads from it; else the stack refuses at start,
naming the variable, the endpoint and the fix, never a password."""

from __future__ import annotations

import os
import time
import tomllib
from urllib.parse import urlparse

import pytest

from aurora_sync.config import parse_config
from aurora_sync.cycle import run_cycle
from aurora_sync.export_client import LambdaExporter
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.postgres import DSN_ENV
from aurora_sync.stack.process import StackError
from aurora_sync.stack.stack import EmbeddedStack
from stored_procs.statement import Stmt, run

pytestmark = pytest.mark.integration


def _without_password(dsn: str) -> tuple[str, str]:
    url = urlparse(dsn)
    return f"postgresql://{url.username}@{url.hostname}:{url.port}{url.path}", url.password or ""


def test_a_dsn_without_a_password_libpq_cannot_complete_is_refused_at_start(endpoints, monkeypatch, tmp_path):
    dsn, password = _without_password(endpoints.pg_dsn)
    monkeypatch.setenv(DSN_ENV, dsn)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    started = time.monotonic()
    with pytest.raises(StackError) as err, EmbeddedStack():
        pass
    message = str(err.value)
    port = urlparse(dsn).port
    assert message.startswith(f"{DSN_ENV} (127.0.0.1:{port}): cannot log in: ")
    assert "no password supplied" in message
    assert message.endswith("it has no password: set PGPASSWORD or add the login to ~/.pgpass (or PGPASSFILE)")
    assert password not in message
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("source", ["PGPASSWORD", "PGPASSFILE"])
def test_a_dsn_without_a_password_works_when_libpq_finds_it(pg, endpoints, monkeypatch, tmp_path, source):
    dsn, password = _without_password(endpoints.pg_dsn)
    table = f"nopw_{source.lower()}"
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'v' || g, now() FROM generate_series(1, 25) g")
    monkeypatch.setenv(DSN_ENV, dsn)
    pgpass = tmp_path / "pgpass"
    if source == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", password)
        monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    else:
        monkeypatch.delenv("PGPASSWORD", raising=False)
        pgpass.write_text(f"127.0.0.1:{urlparse(dsn).port}:*:{urlparse(dsn).username}:{password}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
    stack = EmbeddedStack()
    with stack:
        # the exporter Lambda reads the login from Vault: as libpq made it, the password included
        monkeypatch.delenv("PGPASSWORD", raising=False)
        pgpass.unlink(missing_ok=True)
        toml = stack.config_toml(
            f'[[tables]]\nsource = "public.{table}"\nprimary_key = ["id"]\nwatermark_column = "updated_at"\n'
        )
        config = parse_config(tomllib.loads(toml))
        exporter = LambdaExporter(
            config.exporter.lambda_function or "", config.s3.region, config.exporter.lambda_endpoint_url
        )
        with snowpark_session(config.snowflake_connect, config.database) as session:
            report = run_cycle(session, config, exporter)
            assert not report.failed, [t.errors for t in report.tables]
            rows = run(session, Stmt(f'SELECT COUNT(*), MAX("V") FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'))
            watermark = run(
                session,
                Stmt('SELECT WATERMARK FROM "ANALYTICS"."AURORA_SYNC"."WATERMARKS" WHERE SOURCE_TABLE = ?', (table,)),
            )
    assert rows[0][0] == 25 and rows[0][1] == "v9"
    cur.execute(f"SELECT max(updated_at)::text FROM public.{table}")
    assert watermark[0][0] == cur.fetchone()[0]
    assert os.environ.get(DSN_ENV) == dsn  # the stack put back what it changed, not this test's setting
